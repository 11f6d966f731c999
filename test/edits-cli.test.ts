/**
 * `neurotap extract --edit KEY=OP` as users run it (`node bin/neurotap.js` in a child process): the
 * written file holds the captured keys and `output:NAME` of the edited run, equal to PyTorch's
 * forward hooks returning the edited output (scripts/fixtures_edits.py); bad edits exit 2.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeNpy } from '../src/formats/npy.js';
import { parseNpz } from '../src/formats/npz.js';
import type { HostTensor } from '../src/tensor.js';
import { cliFromBuild } from './helpers/cli.js';
import { editFixture } from './helpers/edits.js';
import { FIXTURES, mismatch } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'neurotap-edits-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const neurotap = (...args: string[]) => cliFromBuild(args);

async function extract(
  out: string,
  ...args: string[]
): Promise<Map<string, ReturnType<typeof parseNpz> extends Map<string, infer T> ? T : never>> {
  const run = await neurotap('extract', ...args, '--out', out);
  assert.equal(run.code, 0, run.stderr);
  return parseNpz(new Uint8Array(readFileSync(out)));
}

function assertGolden(
  written: Map<string, HostTensor>,
  fx: ReturnType<typeof editFixture>,
  name: string,
  keys: string[],
) {
  for (const key of keys) {
    const golden = fx.golden.get(`${name}/${key.startsWith('output:') ? '__output__#0' : key}`)!;
    assert.ok(written.has(key), `${key} is in the file`);
    assert.equal(mismatch(written.get(key)!, golden, 1e-5, 1e-5), undefined, `${name}: ${key}`);
  }
}

describe('neurotap extract --edit', () => {
  const gpt = editFixture('edits-gpt');
  const mlp = editFixture('edits-mlp');
  const input = (fx: ReturnType<typeof editFixture>) => join(fx.dir, 'input.npz');

  it('add:FILE.npy steers a block; downstream keys and logits equal PyTorch', async () => {
    const steer = gpt.tensor(gpt.cases.find((c) => c.name === 'steer')!, 'h.0');
    const scaled = { ...steer, data: Float32Array.from(steer.data as Float32Array, (v) => v * 4) };
    const file = join(tmp, 'steer.npy');
    writeFileSync(file, encodeNpy(scaled));
    const out = join(tmp, 'steer.npz');
    const written = await extract(
      out,
      gpt.path,
      '--input',
      input(gpt),
      '--layers',
      'h.0,h.5,h.11',
      '--edit',
      `h.0=add:${file}`,
    );
    assert.deepEqual([...written.keys()], ['h.0', 'h.5', 'h.11', 'output:logits']);
    assertGolden(written, gpt, 'steer', ['h.0', 'h.5', 'h.11', 'output:logits']);
  });

  it('patch:CACHE.npz patches an MLP from a clean run written by an earlier extract', async () => {
    const clean = join(tmp, 'clean.npz');
    await extract(clean, gpt.path, '--input', join(gpt.dir, 'clean.npz'), '--layers', 'h.1.mlp');
    const out = join(tmp, 'patched.npz');
    const written = await extract(
      out,
      gpt.path,
      '--input',
      input(gpt),
      '--layers',
      'h.1.mlp,h.1',
      '--edit',
      `h.1.mlp=patch:${clean}`,
    );
    assertGolden(written, gpt, 'patch', ['h.1.mlp', 'h.1', 'output:logits']);
  });

  it('zero, clamp with an empty bound, and two edits at once', async () => {
    const zeroed = await extract(
      join(tmp, 'zero.npz'),
      mlp.path,
      '--input',
      input(mlp),
      '--layers',
      'modules',
      '--edit',
      '1=zero',
    );
    assertGolden(zeroed, mlp, 'zero', ['0', '1', '2', '3', '4', 'output:output']);
    const clamped = await extract(
      join(tmp, 'clamp.npz'),
      mlp.path,
      '--input',
      input(mlp),
      '--layers',
      '0,4',
      '--edit',
      '0=clamp::0',
    );
    assertGolden(clamped, mlp, 'clamp-max', ['0', '4', 'output:output']);
    const pair = mlp.cases.find((c) => c.name === 'pair')!;
    const file = join(tmp, 'pair.npy');
    writeFileSync(file, encodeNpy(mlp.tensor(pair, '2')));
    const both = await extract(
      join(tmp, 'pair.npz'),
      mlp.path,
      '--input',
      input(mlp),
      '--layers',
      '0,2,4',
      '--edit',
      '0=clamp:0.1:',
      '--edit',
      `2=add:${file}`,
    );
    assertGolden(both, mlp, 'pair', ['0', '2', '4', 'output:output']);
  });

  it('an unobservable key exits 2 naming why; a malformed edit exits 2', async () => {
    const folded = await neurotap(
      'extract',
      join(FIXTURES, 'resnet18', 'model.onnx'),
      '--random',
      '--edit',
      'conv1=zero',
      '--json',
    );
    assert.equal(folded.code, 2);
    const error = JSON.parse(folded.stdout).error;
    assert.equal(error.code, 'E_NOT_OBSERVABLE');
    assert.match(error.message, /folded the next BatchNorm/);
    for (const edit of ['0=scale:x', '0=clamp:1', '0=double', '=zero', '0=patch:missing.npz']) {
      const run = await neurotap('extract', mlp.path, '--input', input(mlp), '--edit', edit, '--json');
      assert.equal(run.code, 2, edit);
      assert.match(JSON.parse(run.stdout).error.code, /E_BAD_ARGUMENT|E_FILE_NOT_FOUND/, edit);
    }
  });
});
