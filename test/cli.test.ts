/**
 * The `neurotap` CLI as users run it: `node bin/neurotap.js ...` in a child process, on the
 * committed fixtures, checking real keys, shapes and values (against PyTorch's goldens), the
 * exit codes and the JSON error codes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNpy } from '../src/formats/npy.js';
import { parseNpz } from '../src/formats/npz.js';
import type { HostTensor } from '../src/tensor.js';
import { ensureBuilt } from './helpers/cli.js';
import { cli } from './helpers/dataset.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'fixtures');
const REAL_MODELS = join(FIXTURES, 'real-models');
const fx = (...parts: string[]) => join(FIXTURES, ...parts);

/** Runs with --json and parses stdout; the exit code must be the one expected. */
async function cliJson(expectedCode: number, ...args: string[]): Promise<any> {
  const run = await cli(...args, '--json');
  assert.equal(
    run.code,
    expectedCode,
    `exit code of neurotap ${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
  );
  return JSON.parse(run.stdout);
}

function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  assert.deepEqual([...a.dims], [...b.dims]);
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

function argmax(t: HostTensor): number {
  const data = t.data as Float32Array;
  return data.indexOf(Math.max(...data));
}

let tmp: string;
before(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('neurotap --help', () => {
  it('prints usage for the root and each command, exit 0, without ANSI codes in a pipe', async () => {
    const root = await cli('--help');
    assert.equal(root.code, 0);
    assert.match(root.stdout, /layers/);
    assert.match(root.stdout, /extract/);
    assert.doesNotMatch(root.stdout, /\u001B\[/);
    const extract = await cli('extract', '--help');
    assert.equal(extract.code, 0);
    for (const flag of [
      '--input',
      '--random',
      '--dim',
      '--layers',
      '--inputs-of-modules',
      '--out',
      '--json',
      '--threads',
      '--image-size',
      '--imagenet',
      '--grayscale',
    ]) {
      assert.ok(extract.stdout.includes(flag), `extract --help mentions ${flag}`);
    }
  });
});

describe('neurotap layers', () => {
  it('lists the module tree with types, calls and probed output shapes', async () => {
    const run = await cli('layers', fx('seed-cnn', 'model.onnx'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /input\s+x\s+float32\s+\[batch, 3, 32, 32\]/);
    assert.match(run.stdout, /torchscript-names; shapes from a probe run/);
    assert.match(run.stdout, /^0\s+Conv2d\s+1\s+\[1, 16, 32, 32\]/m);
    assert.match(run.stdout, /^2\s+MaxPool2d\s+1\s+\[1, 16, 16, 16\]/m);
  });

  it('--no-probe shows only the shapes the graph declares', async () => {
    const run = await cli('layers', fx('seed-cnn', 'model.onnx'), '--no-probe');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^0\s+Conv2d\s+1\s+\?/m);
    assert.match(run.stdout, /^4\s+ReLU\s+1\s+\[batch, 32, 16, 16\]/m);
  });

  it('--json gives inputs, outputs, scope source and modules()', async () => {
    const out = await cliJson(0, 'layers', fx('seed-cnn', 'model.onnx'));
    assert.deepEqual(out.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 3, 32, 32] }]);
    assert.deepEqual(out.outputs, [{ name: 'output', dtype: 'float32', shape: ['batch', 32, 16, 16] }]);
    assert.equal(out.source, 'torchscript-names');
    assert.deepEqual(
      out.modules.map((m: { name: string }) => m.name),
      ['0', '1', '2', '3', '4'],
    );
    assert.deepEqual(
      out.modules.map((m: { type: string }) => m.type),
      ['Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'ReLU'],
    );
  });

  it('marks modules that are not observable, with the reason', async () => {
    const run = await cli('layers', fx('resnet18', 'model.onnx'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ {4}layer1\.0\.conv1\s+Conv2d\s+1\s+.*not observable: .*BatchNorm/m);
  });

  it('lists a real TorchScript export (mcunet)', async () => {
    const out = await cliJson(0, 'layers', join(REAL_MODELS, 'mcunet-2species.onnx'));
    assert.ok(out.modules.some((m: { name: string }) => m.name === 'blocks.0.mobile_inverted_conv.depth_conv.conv'));
  });
});

describe('neurotap extract', () => {
  it('seed-cnn leaves: exact keys and shapes, values equal to PyTorch in the written npz', async () => {
    const out = join(tmp, 'seed-cnn.npz');
    const result = await cliJson(
      0,
      'extract',
      fx('seed-cnn', 'model.onnx'),
      '--input',
      fx('seed-cnn', 'input.npz'),
      '--out',
      out,
    );
    assert.deepEqual(
      result.activations.map((a: { key: string }) => a.key),
      ['0', '1', '2', '3', '4'],
    );
    assert.deepEqual(
      result.activations.map((a: { shape: number[] }) => a.shape),
      [
        [1, 16, 32, 32],
        [1, 16, 32, 32],
        [1, 16, 16, 16],
        [1, 32, 16, 16],
        [1, 32, 16, 16],
      ],
    );
    assert.deepEqual(result.inputs, { x: { dtype: 'float32', shape: [1, 3, 32, 32] } });
    assert.deepEqual(result.outputs, [{ name: 'output', shape: [1, 32, 16, 16], dtype: 'float32' }]);
    assert.deepEqual(result.notObservable, []);
    assert.equal(result.written.format, 'npz');
    const relu = result.activations[1];
    assert.equal(relu.min, 0); // a ReLU output
    assert.ok(relu.max > 0 && relu.std > 0);

    const written = parseNpz(new Uint8Array(readFileSync(out)));
    const golden = parseNpz(new Uint8Array(readFileSync(fx('seed-cnn', 'golden.npz'))));
    assert.deepEqual([...written.keys()], ['0', '1', '2', '3', '4', 'output:output']);
    for (const key of ['0', '1', '2', '3', '4'])
      assert.ok(maxAbsDiff(written.get(key)!, golden.get(key)!) <= 1e-4, key);
    assert.ok(maxAbsDiff(written.get('output:output')!, golden.get('__output__#0')!) <= 1e-4);
  });

  it('prints a table of keys, shapes and statistics', async () => {
    const run = await cli('extract', fx('seed-cnn', 'model.onnx'), '--input', fx('seed-cnn', 'input.npz'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /key\s+shape\s+dtype\s+mean\s+std\s+min\s+max/);
    assert.match(run.stdout, /^2\s+\[1, 16, 16, 16\]\s+float32\s/m);
    assert.match(run.stdout, /^output:output\s+\[1, 32, 16, 16\]/m);
  });

  it('resnet18 layer1.*: captured keys, the folded convs reported not observable, values equal to PyTorch', async () => {
    const out = join(tmp, 'resnet18');
    const result = await cliJson(
      0,
      'extract',
      fx('resnet18', 'model.onnx'),
      '--input',
      fx('resnet18', 'input.npz'),
      '--layers',
      'layer1.*',
      '--out',
      out,
    );
    const keys = result.activations.map((a: { key: string }) => a.key);
    assert.deepEqual(keys, [
      'layer1.0',
      'layer1.0.relu:1',
      'layer1.0.relu:2',
      'layer1.1',
      'layer1.1.relu:1',
      'layer1.1.relu:2',
    ]);
    for (const a of result.activations) assert.deepEqual(a.shape, [1, 64, 16, 16]);
    assert.deepEqual(
      result.notObservable.map((u: { key: string }) => u.key),
      ['layer1.0.conv1', 'layer1.0.conv2', 'layer1.1.conv1', 'layer1.1.conv2'],
    );
    assert.ok(
      result.notObservable.every(
        (u: { reason: string; hint: string }) => u.reason.includes('BatchNorm') && u.hint.length > 0,
      ),
    );
    assert.equal(result.written.format, 'npy-directory');
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    assert.deepEqual(Object.keys(index), [...keys, 'output:output']);
    const golden = parseNpz(new Uint8Array(readFileSync(fx('resnet18', 'golden.npz'))));
    const { parseNpy } = await import('../src/formats/npy.js');
    for (const key of keys) {
      const tensor = parseNpy(new Uint8Array(readFileSync(join(out, index[key]))));
      assert.ok(maxAbsDiff(tensor, golden.get(key)!) <= 1e-4, key);
    }
  });

  it('digits: the .npy and the .png of a 3 are both classified as 3', async () => {
    for (const file of ['digit-3.npy', 'digit-3.png']) {
      const out = join(tmp, `${file}.npz`);
      const run = await cli(
        'extract',
        fx('digits-cnn.onnx'),
        '--input',
        fx('digits', file),
        '--layers',
        'fc2',
        '--out',
        out,
      );
      assert.equal(run.code, 0, run.stderr);
      const written = parseNpz(new Uint8Array(readFileSync(out)));
      assert.deepEqual([...written.keys()], ['fc2', 'output:logits']);
      assert.deepEqual([...written.get('fc2')!.dims], [1, 10]);
      assert.equal(argmax(written.get('output:logits')!), 3, file);
      if (file.endsWith('.png')) assert.match(run.stderr, /note: .*grayscale, resized to 8x8/); // taken from the declared shape
    }
  });

  it('--input NAME=FILE, safetensors output and --inputs-of-modules keys', async () => {
    const out = join(tmp, 'digits.safetensors');
    const result = await cliJson(
      0,
      'extract',
      fx('digits-cnn.onnx'),
      '--input',
      `image=${fx('digits-cnn', 'input.npz')}`,
      '--layers',
      'conv1',
      '--layers',
      'fc1,fc2',
      '--inputs-of-modules',
      '--out',
      out,
    );
    assert.deepEqual(
      result.activations.map((a: { key: string }) => a.key),
      ['conv1', 'in:conv1#0', 'fc1', 'in:fc1#0', 'fc2', 'in:fc2#0'],
    );
    assert.deepEqual(result.activations[0].shape, [4, 8, 8, 8]);
    assert.equal(result.written.format, 'safetensors');
  });

  it('converts a float64 .npy for a float32 input and says so', async () => {
    const path = join(tmp, 'x64.npy');
    const data = Float64Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i));
    writeFileSync(path, encodeNpy({ type: 'float64', dims: [1, 3, 32, 32], data }));
    const run = await cli('extract', fx('seed-cnn', 'model.onnx'), '--input', path);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /note: .*converted float64 to float32/);
    const quiet = await cli('extract', fx('seed-cnn', 'model.onnx'), '--input', path, '--json');
    assert.equal(quiet.stderr, '');
    assert.equal(JSON.parse(quiet.stdout).inputs.x.dtype, 'float32');
  });

  it('--random is reproducible per seed and sizes symbolic dims from --dim', async () => {
    const model = fx('transformer', 'model.onnx');
    const missing = await cliJson(2, 'extract', model, '--random');
    assert.equal(missing.error.code, 'E_BAD_ARGUMENT');
    assert.deepEqual(missing.error.details.missing, ['seq']); // batch defaults to 1
    assert.match(missing.error.hint, /--dim seq=SIZE/);
    const a = await cliJson(0, 'extract', model, '--random', '--dim', 'seq=5');
    const b = await cliJson(0, 'extract', model, '--random', '--dim', 'seq=5');
    const c = await cliJson(0, 'extract', model, '--random', '--dim', 'seq=5', '--seed', '1');
    assert.deepEqual(a.inputs, { x: { dtype: 'float32', shape: [1, 5, 32] } });
    assert.deepEqual(a.activations, b.activations);
    assert.notDeepEqual(a.activations, c.activations);
  });
});

describe('neurotap errors', () => {
  it('unknown layer: E_UNKNOWN_LAYER, exit 2, nearby names suggested', async () => {
    const out = await cliJson(
      2,
      'extract',
      fx('resnet18', 'model.onnx'),
      '--input',
      fx('resnet18', 'input.npz'),
      '--layers',
      'layer9',
    );
    assert.equal(out.error.code, 'E_UNKNOWN_LAYER');
    assert.match(out.error.message, /layer9.*did you mean.*'layer\d'/);
    assert.ok(out.error.hint.length > 0);
  });

  it('unknown layer in text mode: error[CODE] and hint on stderr, nothing on stdout', async () => {
    const run = await cli(
      'extract',
      fx('seed-cnn', 'model.onnx'),
      '--input',
      fx('seed-cnn', 'input.npz'),
      '--layers',
      'layer9',
    );
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^error\[E_UNKNOWN_LAYER\]: /m);
    assert.match(run.stderr, /^hint: /m);
    assert.doesNotMatch(run.stderr, /\n\s+at /); // no stack trace without --debug
  });

  it('missing input file: E_FILE_NOT_FOUND', async () => {
    const out = await cliJson(2, 'extract', fx('seed-cnn', 'model.onnx'), '--input', join(tmp, 'nope.npy'));
    assert.equal(out.error.code, 'E_FILE_NOT_FOUND');
  });

  it('wrong shape: E_INPUT_SHAPE', async () => {
    const out = await cliJson(2, 'extract', fx('seed-cnn', 'model.onnx'), '--input', fx('digits', 'digit-3.npy'));
    assert.equal(out.error.code, 'E_INPUT_SHAPE');
    assert.match(out.error.message, /\[batch, 3, 32, 32\].*\[1, 1, 8, 8\]/);
  });

  it('not an ONNX file: E_NOT_ONNX or E_TRUNCATED, no crash', async () => {
    const path = join(tmp, 'random.onnx');
    writeFileSync(
      path,
      Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24),
    );
    for (const command of ['layers', 'extract']) {
      const args = command === 'extract' ? [command, path, '--random'] : [command, path];
      const out = await cliJson(2, ...args);
      assert.ok(['E_NOT_ONNX', 'E_TRUNCATED'].includes(out.error.code), out.error.code);
    }
  });

  it('unwritable output: E_OUTPUT_PATH and no file left', async () => {
    const out = await cliJson(
      2,
      'extract',
      fx('seed-cnn', 'model.onnx'),
      '--input',
      fx('seed-cnn', 'input.npz'),
      '--out',
      '/nonexistent-dir/x.npz',
    );
    assert.equal(out.error.code, 'E_OUTPUT_PATH');
    assert.equal(existsSync('/nonexistent-dir'), false);
  });

  it('usage mistakes: exit 2 with E_BAD_ARGUMENT', async () => {
    const model = fx('seed-cnn', 'model.onnx');
    for (const args of [
      ['extract', model],
      ['extract', model, '--input', fx('seed-cnn', 'input.npz'), '--layer', '0'],
      ['extract'],
      ['frobnicate'],
      ['extract', model, fx('seed-cnn', 'input.npz')],
    ]) {
      const out = await cliJson(2, ...args);
      assert.equal(out.error.code, 'E_BAD_ARGUMENT', args.join(' '));
    }
  });

  it('--debug adds the stack trace', async () => {
    const run = await cli('extract', fx('seed-cnn', 'model.onnx'), '--input', join(tmp, 'nope.npy'), '--debug');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /\n\s+at /);
  });

  const smollm = join(REAL_MODELS, 'smollm-2layer-dynamo.onnx');
  it('missing external data: layers works, extract fails with E_EXTERNAL_DATA_MISSING naming the .data file', async () => {
    const layers = await cliJson(0, 'layers', smollm);
    assert.equal(layers.source, 'dynamo-metadata');
    assert.ok(layers.modules.some((m: { name: string }) => m.name === 'model.layers.0.self_attn.q_proj'));
    const out = await cliJson(2, 'extract', smollm, '--random', '--dim', 's34=1', '--dim', 's16=4', '--dim', 's17=0');
    assert.equal(out.error.code, 'E_EXTERNAL_DATA_MISSING');
    assert.match(out.error.message, /\.onnx\.data/);
  });
});
