/**
 * No data mixing: a resume refuses inputs whose contents changed (naming the file) and options that
 * differ (naming the option and both values), a directory holding another data set is refused unless
 * --overwrite (which removes the old arrays first), temporary files of a killed run are reported by
 * verify and cleaned by --resume, a damaged manifest is E_BAD_FILE, NaN is counted apart in stats,
 * token ids must be integers of the input's range, and inputs named like Object properties work.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { arraySource } from '../src/dataset/array-source.js';
import { computeNeuronStats } from '../src/dataset/index.js';
import { jsonlSource } from '../src/node/dataset/jsonl-source.js';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { DIGITS_CNN, tokenModelBytes, writeDigitsNpy } from './helpers/dataset.js';
import { runLimited } from './helpers/limited.js';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-mixing-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; error?: any }> {
  const run = await runLimited('test/helpers/run-cli.ts', [...args, '--json']);
  return { code: run.code, stdout: run.stdout, error: JSON.parse(run.stdout || '{}').error };
}

const extract = (npy: string, out: string, ...more: string[]) =>
  cli('extract', DIGITS_CNN, '--inputs', npy, '--batch-size', '8', '--out', out, ...more);

/** Relu models whose input (and output) has the given name: Object property names included. */
function reluModel(input: string, output = 'y'): Uint8Array {
  const value = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] } } },
  });
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'relu',
      node: [{ opType: 'Relu', name: 'relu', input: [input], output: [output] }],
      input: [value(input)],
      output: [value(output)],
    },
  };
  return encodeModel(proto);
}

describe('resume and shards refuse another job', () => {
  it('refuses to resume when an input file changed contents (same shape), naming it', async () => {
    const npy = join(tmp, 'changing.npy');
    const store = join(tmp, 'changing.zarr');
    writeDigitsNpy(npy, 24, 1);
    assert.equal((await extract(npy, store, '--chunk-size', '8', '--layers', 'fc1')).code, 0);
    writeDigitsNpy(npy, 24, 2); // same shape and size, other values
    const run = await extract(npy, store, '--chunk-size', '8', '--layers', 'fc1', '--resume');
    assert.deepEqual([run.code, run.error?.code], [2, 'E_OUTPUT_PATH']);
    assert.match(run.error.message, /the input .*changing\.npy changed since the store was written/);
    assert.equal(run.error.details.field, 'data');
  });

  it('names the differing option with both values', async () => {
    const npy = join(tmp, 'options.npy');
    const store = join(tmp, 'options.zarr');
    writeDigitsNpy(npy, 16);
    assert.equal((await extract(npy, store, '--chunk-size', '8', '--layers', 'fc1')).code, 0);
    const run = await extract(npy, store, '--chunk-size', '16', '--layers', 'fc1', '--resume');
    assert.match(run.error.message, /options\.chunkSize is 8 in the store and 16 in this run/);
  });

  it('reports temporary files of a killed run in verify and removes them on --resume', async () => {
    const npy = join(tmp, 'temps.npy');
    const store = join(tmp, 'temps.zarr');
    writeDigitsNpy(npy, 16);
    assert.equal((await extract(npy, store, '--chunk-size', '8', '--layers', 'fc1')).code, 0);
    const stale = join(store, 'fc1', 'c.1.0.0123456789ab.tmp');
    writeFileSync(stale, 'half a chunk');
    utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const dirty = await runLimited('test/helpers/run-cli.ts', ['verify', store]);
    assert.equal(dirty.code, 0, 'the data is whole: a temp file is never read');
    assert.match(
      dirty.stdout,
      /1 temporary files of an interrupted write remain .* e\.g\. fc1\/c\.1\.0\.0123456789ab\.tmp/,
    );
    const report = JSON.parse((await runLimited('test/helpers/run-cli.ts', ['verify', store, '--json'])).stdout);
    assert.deepEqual(report.tempFiles, ['fc1/c.1.0.0123456789ab.tmp']);
    assert.equal((await extract(npy, store, '--chunk-size', '8', '--layers', 'fc1', '--resume')).code, 0);
    const clean = await runLimited('test/helpers/run-cli.ts', ['verify', store, '--json']);
    assert.deepEqual(JSON.parse(clean.stdout).tempFiles, []);
    assert.ok(!readdirSync(join(store, 'fc1')).some((f) => f.endsWith('.tmp')));
  });

  it('gives E_BAD_FILE, not an internal error, for a damaged manifest on --resume', async () => {
    const npy = join(tmp, 'damaged.npy');
    const store = join(tmp, 'damaged.zarr');
    writeDigitsNpy(npy, 8);
    assert.equal((await extract(npy, store, '--layers', 'fc1')).code, 0);
    writeFileSync(join(store, '.neurotap', 'manifest.json'), '{"format": "neurotap.dataset/1", "keys": [');
    const run = await extract(npy, store, '--layers', 'fc1', '--resume');
    assert.deepEqual([run.code, run.error?.code], [2, 'E_BAD_FILE']);
    assert.match(run.error.message, /manifest\.json; it is damaged/);
  });
});

describe('a directory of .npy files is never mixed', () => {
  it('refuses an earlier data set of another job unless --overwrite, which removes its arrays', async () => {
    const npy = join(tmp, 'flat.npy');
    const out = join(tmp, 'flat/');
    writeDigitsNpy(npy, 8);
    assert.equal((await extract(npy, out, '--layers', 'fc1')).code, 0);
    assert.equal((await extract(npy, out, '--layers', 'fc1')).code, 0, 'the same job again is fine');
    const refused = await extract(npy, out, '--layers', 'conv1');
    assert.deepEqual([refused.code, refused.error?.code], [2, 'E_OUTPUT_PATH']);
    assert.match(refused.error.message, /holds an earlier data set of another job/);
    assert.equal((await extract(npy, out, '--layers', 'conv1', '--overwrite')).code, 0);
    assert.deepEqual(readdirSync(out).sort(), ['conv1.npy', 'index.json', 'manifest.json', 'output_logits.npy']);
  });

  it('refuses a directory holding files that are not a data set, even with --overwrite', async () => {
    const npy = join(tmp, 'foreign.npy');
    const out = join(tmp, 'foreign');
    writeDigitsNpy(npy, 8);
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const run = await extract(npy, `${out}/`, '--layers', 'fc1', '--overwrite');
    assert.deepEqual([run.code, run.error?.code], [2, 'E_OUTPUT_PATH']);
    assert.match(run.error.message, /files that are not a data set's \(notes\.txt\)/);
  });
});

describe('values and names that used to mix silently', () => {
  it('counts NaN apart in neuron statistics: finite min and max, not dead', async () => {
    const model = await loadModel(reluModel('x'));
    const data = Float32Array.from([NaN, 1, -2, NaN, -1, -3, NaN, NaN, -4]); // 3 items x 3 neurons
    const report = await computeNeuronStats(model, arraySource({ x: { type: 'float32', dims: [3, 3], data } }), {
      layers: 'values',
    });
    const [n0, n1, n2] = report.layers[0].neurons;
    assert.deepEqual([n0.count, n0.nan, n0.mean, n0.min, n0.max], [0, 3, NaN, NaN, NaN]);
    assert.deepEqual([n1.count, n1.nan, n1.min, n1.max, n1.fractionActive], [2, 1, 0, 1, 1 / 3]);
    assert.deepEqual([n2.count, n2.nan, n2.min, n2.max], [3, 0, 0, 0]);
    assert.deepEqual(report.layers[0].dead, [2], 'only the neuron without NaN and never > 0');
  });

  it('rejects token ids that are not integers of the input range (1.5, 1e300)', async () => {
    const model = await loadModel(tokenModelBytes());
    for (const [line, message] of [
      ['[1, 1.5, 2]', /holds 1\.5; its int64 input takes integers/],
      ['[1, 1e300]', /holds 1e\+300; its int64 input takes integers/],
    ] as const) {
      const file = join(tmp, 'ids.jsonl');
      writeFileSync(file, `[1, 2]\n${line}\n`);
      await assert.rejects(
        jsonlSource(model, file),
        (e: unknown) =>
          isNeurotapError(e, 'E_BAD_FILE') && /line 2/.test((e as Error).message) && message.test((e as Error).message),
      );
    }
    await assert.rejects(jsonlSource(model, join(tmp, 'absent.jsonl')), (e: unknown) =>
      isNeurotapError(e, 'E_FILE_NOT_FOUND'),
    );
    await assert.rejects(jsonlSource(model, tmp), (e: unknown) => isNeurotapError(e, 'E_BAD_FILE'));
  });

  it('feeds inputs named constructor, toString and __proto__ like any other name', async () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      const model = await loadModel(reluModel(name));
      const x = { data: Float32Array.from([-1, 2, -3]), dims: [1, 3] };
      const feeds = Object.defineProperty({}, name, { value: x, enumerable: true });
      const out = await model.run(feeds);
      assert.deepEqual([...(out.y.data as Float32Array)], [0, 2, 0], name);
      await assert.rejects(model.run({}), (e: unknown) => isNeurotapError(e, 'E_MISSING_INPUT'), name);
    }
  });
});

describe('file lists fail typed', () => {
  it('gives E_FILE_NOT_FOUND / E_BAD_FILE, not raw fs errors, for a missing directory and an unreadable list', async () => {
    const { listDirectory, listFile } = await import('../src/node/dataset/file-list.js');
    await assert.rejects(listDirectory(join(tmp, 'no-such-dir')), (e: unknown) =>
      isNeurotapError(e, 'E_FILE_NOT_FOUND'),
    );
    await assert.rejects(
      listFile(tmp),
      (e: unknown) => isNeurotapError(e, 'E_BAD_FILE') && /EISDIR/.test((e as Error).message),
    );
  });
});
