/**
 * Cheaper captures: a capture's plan is reused for equal options (never for changed ones), and
 * `dtype: 'float16'` returns float32 activations rounded to float16 by the graph, keys unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { float16ToFloat32 } from '../src/tensor-summary.js';
import { readFileSync } from 'node:fs';
import { NeurotapModel } from '../src/model.js';
import { loadModel, nodeRuntime } from '../src/node/index.js';
import type { InferenceSession, Runtime } from '../src/runtime/runtime.js';
import { fixture } from './helpers/fixtures.js';

const fx = fixture('digits-cnn');
const feeds = Object.fromEntries(fx.inputs);

describe('plan reuse', () => {
  it('follows the options, not the object: a mutated options object selects anew', async () => {
    const model = await loadModel(fx.path);
    const options: { layers: string[]; reduce?: 'mean' } = { layers: ['conv1'] };
    assert.deepEqual([...(await model.capture(feeds, options)).keys()], ['conv1']);
    options.layers = ['relu1', 'fc2'];
    assert.deepEqual([...(await model.capture(feeds, options)).keys()], ['relu1', 'fc2']);
    options.reduce = 'mean';
    assert.deepEqual((await model.capture(feeds, options)).get('relu1')!.dims, [feeds.image.dims[0], 8]);
    assert.deepEqual((await model.capture(feeds, { layers: [/^relu/] })).keys().next().value, 'relu1');
    assert.deepEqual([...(await model.capture(feeds, { layers: [/^conv/] })).keys()], ['conv1', 'conv2']);
  });

  it("gives each capture its own tensors and report, equal to a fresh model's", async () => {
    const model = await loadModel(fx.path);
    const first = await model.capture(feeds);
    const second = await model.capture(feeds, {});
    const fresh = await (await loadModel(fx.path)).capture(feeds);
    for (const [key, t] of fresh) {
      assert.deepEqual(second.get(key)!.data, t.data, key);
      assert.notEqual(second.get(key)!.data, first.get(key)!.data, `${key}: a second capture shares the first's array`);
    }
    assert.notEqual(first.notObservable, second.notObservable);
  });
});

/** A runtime whose sessions record the outputs each run fetched. */
function recordingRuntime(fetched: string[][]): Runtime {
  return {
    Tensor: nodeRuntime.Tensor,
    InferenceSession: {
      async create(model: Uint8Array, options?: InferenceSession.SessionOptions) {
        const session = await nodeRuntime.InferenceSession.create(model, options);
        const run = session.run.bind(session);
        session.run = ((feeds: InferenceSession.FeedsType, names: readonly string[]) => {
          fetched.push([...names]);
          return run(feeds, names);
        }) as typeof session.run;
        return session;
      },
    } as Runtime['InferenceSession'],
  };
}

describe('duplicate values', () => {
  it("returns a Flatten of a captured value as a view of that value's data, equal to fetching it", async () => {
    const fetched: string[][] = [];
    const model = NeurotapModel.fromBytes(new Uint8Array(readFileSync(fx.path)), recordingRuntime(fetched));
    for (const dtype of ['float32', 'float16'] as const) {
      const both = await model.capture(feeds, { layers: ['pool', 'flatten'], dtype });
      const alone = await model.capture(feeds, { layers: ['flatten'], dtype });
      const flatten = both.get('flatten')!;
      assert.equal(
        (flatten.data as Float32Array).buffer,
        (both.get('pool')!.data as Float32Array).buffer,
        'flatten is a view of pool',
      );
      assert.equal(flatten.type, alone.get('flatten')!.type);
      assert.deepEqual(flatten.dims, alone.get('flatten')!.dims);
      assert.deepEqual(flatten.dims, [feeds.image.dims[0], 16 * 4 * 4]);
      assert.deepEqual(flatten.data, alone.get('flatten')!.data);
    }
    // The view's value leaves the runtime only as its shape: one big output fewer.
    const value = both(model).flatten;
    assert.ok(!fetched[0].includes(value), `${value} was fetched`);
    assert.ok(fetched[0].includes(`neurotap::${value}::shape::0`), fetched[0].join());
    assert.ok(fetched[1].includes(value), 'alone, flatten is fetched');
  });
});

/** The graph value each key is read from. */
function both(model: NeurotapModel): Record<string, string> {
  return Object.fromEntries(model.plan({ layers: ['pool', 'flatten'] }).targets.map((t) => [t.key, t.value]));
}

describe("dtype: 'float16'", () => {
  it('returns each float32 activation rounded to float16, the same keys and float32 model outputs', async () => {
    const model = await loadModel(fx.path);
    const full = await model.capture(feeds, { layers: 'modules', inputs: true });
    const half = await model.capture(feeds, { layers: 'modules', inputs: true, dtype: 'float16' });
    assert.deepEqual([...half.keys()], [...full.keys()]);
    for (const [key, t] of full) {
      const h = half.get(key)!;
      assert.equal(h.type, 'float16', key);
      assert.deepEqual(h.dims, t.dims, key);
      const decoded = float16ToFloat32(h.data as Uint16Array);
      const exact = t.data as Float32Array;
      // Round to nearest: within half a float16 ulp (2^-11 relative; 2^-25 below the normal range).
      for (let i = 0; i < exact.length; i++)
        assert.ok(Math.abs(decoded[i] - exact[i]) <= Math.max(Math.abs(exact[i]) * 2 ** -11, 2 ** -25), `${key}[${i}]`);
    }
    assert.equal(half.outputs.logits.type, 'float32');
    assert.deepEqual(half.outputs.logits.data, full.outputs.logits.data);
  });

  it('refuses another dtype with E_BAD_ARGUMENT naming it', async () => {
    const model = await loadModel(fx.path);
    await assert.rejects(model.capture(feeds, { dtype: 'half' as 'float16' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_BAD_ARGUMENT');
      assert.match(e.message, /Expected dtype 'float32' or 'float16'; got "half"/);
      return true;
    });
  });
});
