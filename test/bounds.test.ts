/**
 * Unbounded numbers: every numeric CLI flag has a range (E_BAD_ARGUMENT naming it, before any
 * allocation), chunk bytes and top-k are bounded in the library, and a model declaring absurd input
 * sizes cannot make --random or the layers probe allocate gigabytes. The CLI runs from source in a
 * child process under a 1 GB memory limit, so a regression fails instead of exhausting the machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { computeNeuronStats } from '../src/dataset/index.js';
import { arraySource } from '../src/dataset/array-source.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { runLimited } from './helpers/limited.js';

const ROOT = join(import.meta.dirname, '..');
const DIGITS = join(ROOT, 'fixtures', 'digits-cnn.onnx');
const SAMPLES = join(ROOT, 'fixtures', 'digits');
const dir = mkdtempSync(join(tmpdir(), 'neurotap-bounds-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number | null; error?: { code: string; message: string } }> {
  const run = await runLimited('test/helpers/run-cli.ts', [...args, '--json']);
  assert.equal(run.signal, null, `killed: ${run.stderr}`);
  return { code: run.code, error: JSON.parse(run.stdout || '{}').error };
}

/** A Relu model whose one input declares `dims` (numbers, or names for symbolic sizes). */
function reluModel(dims: (number | string)[]): string {
  const value = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'relu',
      node: [{ opType: 'Relu', name: 'relu', input: ['x'], output: ['y'] }],
      input: [value('x')],
      output: [value('y')],
    },
  };
  const path = join(dir, `relu-${dims.join('x')}.onnx`);
  writeFileSync(path, encodeModel(proto));
  return path;
}

describe('numeric flags have ranges', () => {
  it('refuses a huge --batch-size, --chunk-size, --threads and --top-k with E_BAD_ARGUMENT naming the flag', async () => {
    const out = join(dir, 'o.zarr');
    const cases: [string[], RegExp][] = [
      [
        ['extract', DIGITS, '--inputs', SAMPLES, '--out', out, '--batch-size', '1000000000'],
        /--batch-size .* from 1 to 1048576/,
      ],
      [
        ['extract', DIGITS, '--inputs', SAMPLES, '--out', out, '--chunk-size', String(2 ** 40)],
        /--chunk-size .* from 1 to/,
      ],
      [
        ['extract', DIGITS, '--input', join(SAMPLES, 'digit-3.npy'), '--threads', '100000'],
        /--threads .* from 1 to 1024/,
      ],
      [['stats', DIGITS, '--inputs', SAMPLES, '--top-k', '1000000000'], /--top-k .* from 0 to 10000/],
    ];
    for (const [args, message] of cases) {
      const { code, error } = await cli(...args);
      assert.deepEqual([code, error?.code], [2, 'E_BAD_ARGUMENT'], args.join(' '));
      assert.match(error!.message, message);
    }
  });

  it('bounds a chunk by its bytes: 8e6 items of a 4 KiB layer is refused, naming the layer', async () => {
    const out = join(dir, 'c.zarr');
    const args = ['--inputs', SAMPLES, '--out', out, '--batch-size', '8', '--chunk-size', '8000000'];
    const { code, error } = await cli('extract', DIGITS, ...args);
    assert.deepEqual([code, error?.code], [2, 'E_BAD_ARGUMENT']);
    assert.match(error!.message, /A chunk of 8000000 items would hold 32768000000 bytes of 'conv2' \(4096 per item\)/);
  });

  it('keeps at most as many top items as the data set has (topK 1e9 in the library)', async () => {
    const model = await loadModel(reluModel(['batch', 4]));
    const x = { type: 'float32' as const, dims: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i - 5) };
    const report = await computeNeuronStats(model, arraySource({ x }), { topK: 1e9, layers: 'values' });
    const neuron = report.layers[0].neurons[3];
    assert.deepEqual(
      neuron.top.map((t) => t.value),
      [6, 2, 0],
    );
  });
});

describe('absurd declared input sizes', () => {
  it('--random refuses negative, 2^40 and gigabyte shapes before allocating', async () => {
    const cases: [string, RegExp][] = [
      [reluModel([1, -5]), /input 'x': its shape \[1, -5\] has the size -5/],
      [reluModel([1, 2 ** 40]), /--random would make 4398046511104 bytes of inputs \(x \[1, 1099511627776\]\)/],
      [reluModel([1, 3, 20000, 20000]), /--random would make 4800000000 bytes/],
    ];
    for (const [model, message] of cases) {
      const { code, error } = await cli('extract', model, '--random');
      assert.deepEqual([code, error?.code], [2, 'E_BAD_ARGUMENT'], model);
      assert.match(error!.message, message);
    }
  });

  it('layers skips the probe by default when the inputs alone exceed 64 MiB, and says why', async () => {
    const run = await runLimited('test/helpers/run-cli.ts', ['layers', reluModel([1, 3, 20000, 20000])]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /declared shapes \(inputs of 4800000000 bytes, over 64 MiB: --probe runs the model/);
  });
});
