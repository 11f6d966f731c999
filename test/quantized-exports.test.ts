/**
 * Quantized exports (issue 9, QDQ graphs): a module whose input or output is quantized gets the
 * quantized value PyTorch's hooks see, never the float before quantization; torch.ao's fake
 * quantizers, called from forward hooks, are named by their parameters; and what `plan()` lists
 * agrees with what a capture returns on a model ONNX Runtime fuses into integer kernels.
 * Fixtures: quant-stubs, quant-fake (scripts/fixtures_fidelity.py), fused-qdq.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

describe('torch.ao quantized modules (QuantStub, quantized Conv, DeQuantStub), exported', () => {
  it("each module returns its quantized output and receives its producer's, as uint8 integers", async () => {
    const fx = fixture('quant-stubs');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    assert.deepEqual(acts.notObservable, []);
    assert.deepEqual(
      [...acts.keys()].filter((k) => !k.startsWith('in:')),
      ['quant', 'conv', 'relu', 'dequant', 'head'],
    );
    for (const key of ['quant', 'conv', 'relu']) assert.equal(acts.get(key)!.type, 'uint8', key);
    // The QuantizeLinear of a module stays in it: what conv, relu and dequant receive is quantized too.
    for (const key of ['conv', 'relu', 'dequant']) {
      assert.equal(acts.get(`in:${key}#0`)!.type, 'uint8', key);
      assert.equal(mismatch(acts.get(`in:${key}#0`)!, fx.goldenInputs.get(`${key}#0`)!), undefined, `in:${key}`);
    }
    for (const [key, tensor] of acts) {
      const expected = key.startsWith('in:') ? fx.goldenInputs.get(key.slice(3)) : fx.golden.get(key);
      assert.equal(mismatch(tensor, expected!), undefined, key);
    }
    assert.deepEqual(
      ['quant', 'conv', 'dequant'].map((n) => model.module(n)!.type),
      ['Quantize', 'Conv2d', 'DeQuantize'],
    );
  });

  it('with dequantize, a quantized output is its real value: (q - zero point) x scale', async () => {
    const fx = fixture('quant-stubs');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['conv'], dequantize: true });
    const q = fx.golden.get('conv')!;
    const real = { dims: q.dims, data: Float32Array.from(q.data as Uint8Array, (v) => (v - 128) * 2 ** -5) };
    assert.equal(acts.get('conv')!.type, 'float32');
    assert.equal(mismatch(acts.get('conv')!, real as never), undefined);
  });

  it("fake quantizers run from forward hooks: named by their parameters, their parent's output includes them", async () => {
    const fx = fixture('quant-fake');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    // The export scopes them '/activation_post_process/', '/activation_post_process_1/': never a key of that name.
    assert.ok(![...acts.keys()].some((k) => k.startsWith('activation_post_process')));
    assert.equal(model.module('activation_post_process'), undefined);
    for (const key of ['quant', 'quant.activation_post_process', 'conv', 'conv.activation_post_process', 'relu'])
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    assert.equal(mismatch(acts.get('in:relu#0')!, fx.goldenInputs.get('relu#0')!), undefined);
    // A DeQuantStub before convert is an identity: no node, no parameter, so no module to list.
    assert.equal(model.module('dequant'), undefined);
  });
});

describe('plan() agrees with capture on a model ONNX Runtime fuses (fused-qdq)', () => {
  const feeds = () =>
    Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(FIXTURES, 'fused-qdq', 'input.npz')))));

  it('values fused into integer kernels are reported by plan() as by capture, with the same reasons', async () => {
    const model = await loadModel(join(FIXTURES, 'fused-qdq', 'model.onnx'));
    for (const options of [{ layers: 'modules', inputs: true }, { layers: ['values', 'modules'] }] as const) {
      const plan = model.plan(options);
      const acts = await model.capture(feeds(), options);
      assert.deepEqual(plan.targets.map((t) => t.key).sort(), [...acts.keys()].sort());
      assert.deepEqual(plan.notObservable, acts.notObservable);
    }
    assert.match(
      model.plan({ layers: ['fc'] }).notObservable[0].reason,
      /fused by ONNX Runtime into QGemm '\/fc\/Gemm'/,
    );
  });

  it('with edits (run on the model’s own graph) and with optimisation off, nothing is fused: fc is planned', async () => {
    const path = join(FIXTURES, 'fused-qdq', 'model.onnx');
    const edited = (await loadModel(path)).plan({ layers: ['fc'], edit: { relu1: { op: 'zero' } } });
    assert.deepEqual(
      edited.targets.map((t) => t.key),
      ['fc'],
    );
    const basic = (await loadModel(path, { graphOptimizationLevel: 'basic' })).plan({ layers: ['fc'] });
    assert.deepEqual(
      basic.targets.map((t) => t.key),
      ['fc'],
    );
  });
});
