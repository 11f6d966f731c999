/**
 * The same tensors at other batch sizes and thread counts. Every fixture whose inputs have a dynamic
 * batch axis is fed a batch of 1 and of 3 made from its golden inputs' rows (rows [B-1, 0, 1], so
 * order matters): each key holds the golden rows it was fed, along the axis that took the batch size,
 * and the keys are those of the export's batch. A key with no such axis (a recurrent layer fed
 * `x.transpose(0, 1)` mixes every row into each value) is left out. Intra-op threads 1 and 2 give the
 * same keys and values.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Feeds } from '../src/capture/feeds.js';
import { loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

const MODELS = readdirSync(FIXTURES).filter((n) => existsSync(join(FIXTURES, n, 'golden.npz')));
const CAPTURE = { layers: 'modules', inputs: true } as const;

type Rows = { dims: readonly number[]; data: ArrayLike<number | bigint> & { constructor: unknown } };

/** The rows `rows` of `t` along `axis`. */
function take(t: Rows, axis: number, rows: readonly number[]): HostTensor {
  const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = t.dims[axis];
  const out = new (t.data.constructor as new (length: number) => (number | bigint)[])(outer * rows.length * inner);
  for (let o = 0; o < outer; o++)
    rows.forEach((r, j) => {
      for (let i = 0; i < inner; i++) out[(o * rows.length + j) * inner + i] = t.data[(o * n + r) * inner + i];
    });
  const dims = [...t.dims];
  dims[axis] = rows.length;
  return { ...(t as unknown as HostTensor), dims, data: out as unknown as HostTensor['data'] };
}

/** The golden rows a key computed at the new batch size, or undefined where no axis took it. */
function expectedRows(golden: HostTensor, actual: { dims: readonly number[] }, batch: number, rows: number[]) {
  if (rows.length === batch && rows.every((r, i) => r === i)) return golden;
  const axis = golden.dims.findIndex(
    (d, i) =>
      d === batch && actual.dims[i] === rows.length && golden.dims.every((e, j) => j === i || e === actual.dims[j]),
  );
  return axis < 0 ? undefined : take(golden as unknown as Rows, axis, rows);
}

describe('other batch sizes than the export’s: each golden row is what its row computes', () => {
  for (const name of MODELS)
    it(name, async (t) => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      try {
        const batched = model.inputs.filter((v) => typeof v.shape?.[0] === 'string').map((v) => v.name);
        if (batched.length === 0) return t.skip('no dynamic batch axis');
        const batch = fx.inputs.get(batched[0])!.dims[0];
        const exportKeys = [...(await model.capture(Object.fromEntries(fx.inputs), CAPTURE)).keys()].sort();
        for (const rows of [[0], [batch - 1, 0, Math.min(1, batch - 1)]]) {
          const feeds: Feeds = {};
          for (const [k, v] of fx.inputs) feeds[k] = batched.includes(k) ? take(v as Rows, 0, rows) : v;
          const acts = await model.capture(feeds, CAPTURE);
          assert.deepEqual([...acts.keys()].sort(), exportKeys, `batch ${rows.length}: not the export batch's keys`);
          let compared = 0;
          for (const key of acts.keys()) {
            const golden = key.startsWith('in:') ? fx.goldenInputs.get(key.slice(3))! : fx.golden.get(key)!;
            const expected = expectedRows(golden, acts.get(key)!, batch, rows);
            if (!expected) continue;
            assert.equal(mismatch(acts.get(key)!, expected), undefined, `batch ${rows.length}: ${key}`);
            compared++;
          }
          assert.ok(compared >= exportKeys.length - 2, `batch ${rows.length}: only ${compared} keys compared`);
        }
      } finally {
        await model.release();
      }
    });
});

/** Models up to 1 MB (every fixture but the two ResNet-18s, whose 50 MB load twice adds most of the time). */
const SMALL = MODELS.filter((n) => statSync(join(FIXTURES, n, 'model.onnx')).size < 1 << 20);

describe('intra-op threads 1 and 2 give the same keys and values', () => {
  for (const name of SMALL)
    it(name, async () => {
      const fx = fixture(name);
      const feeds = Object.fromEntries(fx.inputs);
      const [one, two] = [await loadModel(fx.path, { threads: 1 }), await loadModel(fx.path, { threads: 2 })];
      try {
        const a = await one.capture(feeds, CAPTURE);
        const b = await two.capture(feeds, CAPTURE);
        assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
        for (const [key, t] of a)
          assert.equal(
            mismatch(b.get(key)!, t as unknown as HostTensor, 1e-5, 1e-6),
            undefined,
            `${key}: 2 threads vs 1`,
          );
      } finally {
        await one.release();
        await two.release();
      }
    });
});
