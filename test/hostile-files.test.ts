/**
 * Hostile input files: zip bombs in .npz (honest and lying about their sizes), damaged archives,
 * .npy headers claiming more rows than the file holds. Each gives E_BAD_FILE quickly; the cases that
 * would allocate gigabytes on a regression run in a child process under a memory limit.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isNeurotapError } from '../src/errors.js';
import { encodeNpy, encodeNpyHeader } from '../src/formats/npy.js';
import { encodeNpz, parseNpz } from '../src/formats/npz.js';
import { zipEntries } from '../src/formats/zip.js';
import { runLimited } from './helpers/limited.js';
import { buildZip, npyHeaderBytes, zerosStream } from './helpers/zip-bomb.js';

const DIGITS = join(import.meta.dirname, '..', 'fixtures', 'digits-cnn.onnx');
const dir = mkdtempSync(join(tmpdir(), 'neurotap-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GiB = 2 ** 30;
const badFile = (message: RegExp) => (err: unknown) =>
  isNeurotapError(err, 'E_BAD_FILE') && !!err.hint && message.test(err.message);

/** `neurotap extract digits-cnn.onnx ARGS --json` from source, with at most 1 GB of data memory. */
async function cliLimited(
  ...args: string[]
): Promise<{ code: number | null; error: { code: string; message: string } }> {
  const run = await runLimited('test/helpers/run-cli.ts', ['extract', DIGITS, ...args, '--json']);
  assert.equal(run.signal, null, `killed: ${run.stderr}`);
  return { code: run.code, error: JSON.parse(run.stdout || '{}').error ?? { code: run.stderr, message: '' } };
}

describe('zip bombs in .npz', () => {
  const threeGiB = 48; // 64 MiB segments: a 3 MB file of 3 GiB zeros
  const n = (threeGiB * 64 * 2 ** 20) / 4;

  it('refuses an archive declaring 3 GiB before inflating anything (CLI, under a 1 GB memory limit)', async () => {
    const file = join(dir, 'honest-bomb.npz');
    const data = zerosStream(threeGiB, n);
    writeFileSync(file, buildZip([{ name: 'x.npy', data, method: 8, declaredSize: npyHeaderBytes(n) + 3 * GiB }]));
    const { code, error } = await cliLimited('--input', file);
    assert.deepEqual([code, error.code], [2, 'E_BAD_FILE']);
    assert.match(error.message, /declares 3221225600 bytes of arrays once inflated; at most 2147483648/);
  });

  it('stops an entry that inflates past the size it declares (CLI, under a 1 GB memory limit)', async () => {
    const file = join(dir, 'lying-bomb.npz');
    writeFileSync(
      file,
      buildZip([{ name: 'x.npy', data: zerosStream(threeGiB, n), method: 8, declaredSize: 2 ** 20 }]),
    );
    const { code, error } = await cliLimited('--input', file);
    assert.deepEqual([code, error.code], [2, 'E_BAD_FILE']);
    assert.match(error.message, /'x\.npy' inflates to more than the 1048576 bytes it declares/);
  });

  it('checks declared sizes against maxBytes, the file and what deflate can expand to', () => {
    const data = zerosStream(1);
    const bytes = npyHeaderBytes(2 ** 24) + 2 ** 26;
    const honest = buildZip([{ name: 'x.npy', data, method: 8, declaredSize: bytes }]);
    assert.throws(
      () => parseNpz(honest, { maxBytes: 2 ** 25 }),
      badFile(/declares 67108992 bytes .* at most 33554432/),
    );
    const impossible = buildZip([{ name: 'x.npy', data: data.subarray(0, 100), method: 8, declaredSize: bytes }]);
    assert.throws(() => parseNpz(impossible), badFile(/from 100 compressed; deflate expands at most 1032 times/));
    const short = buildZip([{ name: 'x.npy', data: data.subarray(0, 1000), method: 8, declaredSize: 1000 * 1000 }]);
    assert.throws(() => parseNpz(short), badFile(/'x\.npy' is not a valid deflate stream/));
  });

  it('gives E_BAD_FILE for empty, truncated, unsupported and duplicated archives', () => {
    const npy = encodeNpy({ type: 'float32', dims: [2], data: new Float32Array([1, 2]) });
    assert.throws(() => parseNpz(new Uint8Array(0)), badFile(/Expected an \.npz \(zip\) archive; got an empty file/));
    assert.throws(() => parseNpz(new Uint8Array(100)), badFile(/hold no zip end-of-central-directory/));
    const stored = (name: string, data: Uint8Array, declaredSize = data.length) =>
      ({ name, data, method: 0, declaredSize }) as const;
    const ok = buildZip([stored('a.npy', npy)]);
    assert.deepEqual([...(parseNpz(ok).get('a')!.data as Float32Array)], [1, 2]);
    assert.throws(() => parseNpz(ok.subarray(0, 40)), badFile(/hold no zip end-of-central-directory/));
    const lying = buildZip([stored('a.npy', npy, npy.length + 5)]);
    assert.throws(() => parseNpz(lying), badFile(/declares \d+ bytes but holds \d+/));
    const bzip = buildZip([{ name: 'a.npy', data: npy, method: 12 as 8, declaredSize: npy.length }]);
    assert.throws(() => parseNpz(bzip), badFile(/compression method 12/));
    assert.throws(() => parseNpz(buildZip([stored('a.npy', npy), stored('a.npy', npy)])), badFile(/"a\.npy" twice/));
  });
});

describe('lying or unreadable input files', () => {
  it('refuses an .npy whose header claims more rows than the file holds, before listing items (under a memory limit)', async () => {
    const file = join(dir, 'lying.npy');
    const header = encodeNpyHeader('float32', [2 ** 40, 1, 28, 28]);
    writeFileSync(file, Buffer.concat([header, Buffer.alloc(4 * 784)]));
    const { code, error } = await cliLimited('--inputs', file, '--out', join(dir, 'lying.zarr'));
    assert.deepEqual([code, error.code], [2, 'E_BAD_FILE']);
    assert.match(error.message, /claims shape \(1099511627776, 1, 28, 28\) of float32, \d+ bytes; the file has 3264/);
  });

  it('reads only regular, non-empty files: /dev/zero, a FIFO and an empty file are E_BAD_FILE', async () => {
    const fifo = join(dir, 'fifo.npy');
    execFileSync('mkfifo', [fifo]);
    const empty = join(dir, 'empty.npz');
    writeFileSync(empty, '');
    const cases: [string[], RegExp][] = [
      [['--input', '/dev/zero'], /\/dev\/zero to be a regular file; it is a device/],
      [['--input', fifo], /to be a regular file; it is a pipe \(FIFO\)/],
      [['--input', empty], /the file is empty \(0 bytes\)/],
    ];
    for (const [args, message] of cases) {
      const { code, error } = await cliLimited(...args);
      assert.deepEqual([code, error.code], [2, 'E_BAD_FILE'], args.join(' '));
      assert.match(error.message, message);
    }
  });
});

describe('.npz member names from module names (zip-slip)', () => {
  it('stores keys that would escape an extraction folder under safe names, and reads the keys back', () => {
    const t = (v: number) => ({ type: 'float32' as const, dims: [1], data: Float32Array.from([v]) });
    const keys = ['../../evil', '/etc/passwd', 'a\\..\\b', 'C:x', '..', 'layer1/0.relu', 'in:fc#0', '__proto__'];
    const bytes = encodeNpz(keys.map((k, i) => [k, t(i)]));
    const names = zipEntries(bytes).map((e) => e.name);
    for (const name of names) {
      assert.ok(!name.split('/').some((s) => s === '..' || s === ''), name);
      assert.ok(!/^[A-Za-z]:|\\/.test(name), name);
    }
    assert.ok(names.includes('layer1/0.relu.npy') && names.includes('in:fc#0.npy'), 'safe keys stay verbatim');
    const back = parseNpz(bytes);
    assert.deepEqual([...back.keys()].sort(), [...keys].sort());
    keys.forEach((k, i) => assert.equal((back.get(k)!.data as Float32Array)[0], i, k));
  });
});

describe('disk full while writing a data set', () => {
  // /dev/full answers every write with ENOSPC: the partial file the writer opens is a link to it.
  it('gives E_OUTPUT_PATH naming the disk, and leaves no finished-looking file', async () => {
    const npy = join(dir, 'full-items.npy');
    writeFileSync(npy, encodeNpy({ type: 'float32', dims: [4, 1, 8, 8], data: new Float32Array(256) }));
    const digits = join(import.meta.dirname, '..', 'fixtures', 'digits-cnn.onnx');
    const cases = [
      { out: join(dir, 'full.safetensors'), partial: join(dir, 'full.safetensors.partial') },
      { out: join(dir, 'full-dir/'), partial: join(dir, 'full-dir', 'fc1.npy.partial') },
    ];
    mkdirSync(join(dir, 'full-dir'));
    for (const { out, partial } of cases) {
      symlinkSync('/dev/full', partial);
      const run = await runLimited('test/helpers/run-cli.ts', [
        'extract',
        digits,
        '--inputs',
        npy,
        '--layers',
        'fc1',
        '--out',
        out,
        '--json',
      ]);
      const error = JSON.parse(run.stdout).error;
      assert.deepEqual([run.code, error.code], [2, 'E_OUTPUT_PATH'], out);
      assert.match(error.message, /the disk is full \(ENOSPC\)/);
      assert.ok(!existsSync(out.replace(/\/$/, '/fc1.npy')) && !existsSync(join(dir, 'full.safetensors')));
    }
  });
});
