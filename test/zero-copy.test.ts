/**
 * Zero-copy outputs on Node (src/node/zero-copy/): captures read from ONNX Runtime's memory equal
 * the binding's copies bit for bit, tensors outlive their session, and every case the C API path
 * does not cover goes to the binding.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { NeurotapModel } from '../src/model.js';
import { loadModel, nodeRuntime } from '../src/node/index.js';
import { ZeroCopySession } from '../src/node/zero-copy/session.js';
import type { Runtime } from '../src/runtime/runtime.js';
import { fixture } from './helpers/fixtures.js';

const binding = ort as unknown as Runtime;

/** Fixtures whose outputs cover float32, int64 and bool tensors, If/Loop bodies and recurrent ops. */
const CASES = ['digits-cnn', 'transformer', 'control-flow', 'loop-branch', 'rnn', 'int4-quant', 'mnist-mlp-float'];

describe('zero-copy outputs', () => {
  before(() => {
    process.env.NEUROTAP_ZERO_COPY = 'always';
  });
  after(() => {
    delete process.env.NEUROTAP_ZERO_COPY;
  });

  for (const name of CASES) {
    it(`${name}: every captured tensor equals the binding's exactly`, async () => {
      const fx = fixture(name);
      const feeds = Object.fromEntries(fx.inputs);
      const bytes = new Uint8Array(readFileSync(fx.path));
      const viaBinding = await NeurotapModel.fromBytes(bytes, binding).capture(feeds, {
        layers: 'modules',
        inputs: true,
      });
      const model = await loadModel(fx.path);
      for (let run = 0; run < 2; run++) {
        const acts = await model.capture(feeds, { layers: 'modules', inputs: true });
        assert.deepEqual([...acts.keys()], [...viaBinding.keys()]);
        for (const [key, expected] of viaBinding) {
          const actual = acts.get(key)!;
          assert.equal(actual.type, expected.type, key);
          assert.deepEqual(actual.dims, expected.dims, key);
          assert.deepEqual(actual.data, expected.data, key);
        }
        assert.deepEqual(Object.keys(acts.outputs), Object.keys(viaBinding.outputs));
      }
    });
  }

  it('returns tensors that stay valid after the model and its sessions are released', async () => {
    const fx = fixture('digits-cnn');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs));
    const copies = new Map([...acts].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
    await model.release();
    // Other runs now reuse whatever memory ONNX Runtime freed.
    const other = await loadModel(fx.path);
    const negated = [...fx.inputs].map(([k, v]) => [k, { ...v, data: (v.data as Float32Array).map((x) => -x) }]);
    for (let i = 0; i < 3; i++) await other.capture(Object.fromEntries(negated));
    for (const [key, copy] of copies) assert.deepEqual(acts.get(key)!.data, copy, key);
  });

  it('runs CPU sessions on the C API when opted in and sends the rest to the binding', async () => {
    const bytes = new Uint8Array(readFileSync(fixture('digits-cnn').path));
    const cpu = await nodeRuntime.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    assert.ok(cpu instanceof ZeroCopySession);
    const folder = `${process.env.TMPDIR ?? '/tmp'}/neurotap-zc-${process.pid}.onnx`;
    const optimizing = await nodeRuntime.InferenceSession.create(bytes, { optimizedModelFilePath: folder });
    assert.ok(!(optimizing instanceof ZeroCopySession));
    process.env.NEUROTAP_ZERO_COPY = '0';
    const off = await nodeRuntime.InferenceSession.create(bytes, {});
    delete process.env.NEUROTAP_ZERO_COPY;
    const unset = await nodeRuntime.InferenceSession.create(bytes, {}); // opt-in: the binding by default
    process.env.NEUROTAP_ZERO_COPY = 'always';
    assert.ok(!(off instanceof ZeroCopySession));
    assert.ok(!(unset instanceof ZeroCopySession));
    for (const s of [cpu, optimizing, off, unset]) await s.release();
  });

  it("throws ONNX Runtime's own message for a run it refuses", async () => {
    const bytes = new Uint8Array(readFileSync(fixture('digits-cnn').path));
    const session = await nodeRuntime.InferenceSession.create(bytes, {});
    const x = new ort.Tensor('float32', new Float32Array(64), [1, 1, 8, 8]);
    await assert.rejects(session.run({ nope: x }, ['logits']), /Invalid input name: nope/);
    await session.release();
  });
});
