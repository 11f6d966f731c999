/**
 * `plan()` is worked out once per option set and capture base: equal options give the same
 * (readonly) targets in fresh arrays, and on a QDQ model loaded with `fromBytes` the selections
 * made before ONNX Runtime's optimised graph was known are dropped once it is.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseNpz } from '../src/formats/npz.js';
import { NeurotapModel } from '../src/model.js';
import { loadModel, nodeRuntime } from '../src/node/index.js';
import { nodeModelSource } from '../src/node/model-source.js';
import { PromiseCache } from '../src/promise-cache.js';
import { FIXTURES, fixture } from './helpers/fixtures.js';

describe('plan cache', () => {
  it('gives equal options the same targets, in arrays of their own, and other options their own plan', async () => {
    const model = await loadModel(fixture('digits-cnn').path);
    const first = model.plan({ layers: ['conv1', /^relu/] });
    const again = model.plan({ layers: ['conv1', /^relu/] });
    assert.deepEqual(
      first.targets.map((t) => t.key),
      ['conv1', 'relu1', 'relu2', 'relu3'].filter((k) => model.module(k)),
    );
    assert.equal(again.targets.length, first.targets.length);
    again.targets.forEach((t, i) => assert.equal(t, first.targets[i], `${t.key}: planned anew`));
    assert.notEqual(again.targets, first.targets);
    // Mutating one answer leaves the next intact.
    first.targets.length = 0;
    assert.deepEqual(
      model.plan({ layers: ['conv1', /^relu/] }).targets.map((t) => t.key),
      again.targets.map((t) => t.key),
    );
    const reduced = model.plan({ layers: ['conv1'], reduce: 'mean' });
    assert.deepEqual(
      reduced.targets.map((t) => [t.key, t.reduce]),
      [['conv1', 'mean']],
    );
    assert.notEqual(reduced.targets[0], again.targets[0]);
  });

  it('drops the plans made before a QDQ model’s optimised graph was known (fromBytes, then capture)', async () => {
    const path = join(FIXTURES, 'fused-qdq', 'model.onnx');
    const bytes = new Uint8Array(readFileSync(path));
    const model = NeurotapModel.fromBytes(bytes, nodeRuntime, {}, nodeModelSource(path, nodeRuntime));
    // Before any capture the optimised graph is unknown: fc is planned, and the plan is kept.
    const before = model.plan({ layers: ['fc'] });
    assert.deepEqual(
      before.targets.map((t) => t.key),
      ['fc'],
    );
    assert.equal(model.plan({ layers: ['fc'] }).targets[0], before.targets[0]);
    const feeds = Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(FIXTURES, 'fused-qdq', 'input.npz')))));
    const acts = await model.capture(feeds, { layers: ['fc'] });
    assert.deepEqual([...acts.keys()], []);
    // Now the base is ONNX Runtime's graph: fc was fused into QGemm, as capture and a loaded model say.
    const after = model.plan({ layers: ['fc'] });
    assert.deepEqual(after.targets, []);
    assert.match(after.notObservable[0].reason, /fused by ONNX Runtime into QGemm '\/fc\/Gemm'/);
    assert.deepEqual(after.notObservable, acts.notObservable);
    assert.deepEqual(after, (await loadModel(path)).plan({ layers: ['fc'] }));
    assert.equal(model.plan({ layers: ['fc'] }).notObservable[0], after.notObservable[0]);
  });
});

describe('PromiseCache (sessions and plans)', () => {
  it('shares a promise per key, makes a rejected one again, and keeps at most max', async () => {
    const cache = new PromiseCache<string>(2);
    let made = 0;
    const make =
      (value: string, fail = false) =>
      () => {
        made++;
        return fail ? Promise.reject(new Error(value)) : Promise.resolve(value);
      };
    const a = cache.get('a', make('a1'));
    assert.equal(cache.get('a', make('a2')), a);
    assert.equal(await a, 'a1');
    await assert.rejects(cache.get('b', make('b1', true)), /b1/);
    assert.equal(await cache.get('b', make('b2')), 'b2', 'a rejected promise is made again');
    await cache.get('c', make('c1'));
    assert.equal(await cache.get('a', make('a3')), 'a3', 'the oldest was forgotten past max');
    assert.equal(made, 5);
    assert.deepEqual(await Promise.all(cache.take()), ['c1', 'a3']);
    assert.deepEqual(cache.take(), []);
  });
});
