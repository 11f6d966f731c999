/**
 * Export optimisations that fuse values across module boundaries (issue 9, patterns 5, 7, 12): every
 * module whose output the fused graph does not hold is reported with the reason, never returned.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

describe('BatchNorm folded into a Conv owned by another module', () => {
  it('reports the Conv and every module whose output is the fused value; the rest equals PyTorch', async () => {
    const fx = fixture('fused-bn');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    // stem wraps the Conv alone (its BatchNorm is the parent's), block holds Conv and BN: both end in the fused value.
    assert.deepEqual(
      acts.notObservable.filter((u) => !u.key.startsWith('in:')).map((u) => u.key),
      ['stem', 'stem.conv', 'block', 'block.conv', 'seq.0', 'seq.1'],
    );
    // seq.1, the BatchNorm folded away, is listed by its numbered siblings (module-map's untraced modules).
    assert.match(acts.whyNotObservable('seq.1')!.reason, /^no trace in the graph: .*a BatchNorm folded into the Conv/);
    assert.match(acts.whyNotObservable('stem')!.reason, /cannot tell whether that BatchNorm ran inside this module/);
    assert.match(acts.whyNotObservable('stem.conv')!.reason, /folded the next BatchNorm into this Conv/);
    for (const key of ['stem', 'block', 'seq.0']) {
      const { hint } = acts.whyNotObservable(key)!;
      assert.match(hint, /TrainingMode\.PRESERVE/);
      assert.match(hint, /do_constant_folding=False does not keep them/);
    }
    // What act, seq, its Conv seq.0 and seq.2 received: the fused value, bn(conv(x)) only if the BatchNorm ran before them.
    assert.deepEqual(
      acts.notObservable.filter((u) => u.key.startsWith('in:')).map((u) => u.key),
      ['in:act#0', 'in:seq#0', 'in:seq.0#0', 'in:seq.2#0'],
    );
    assert.deepEqual(
      [...acts.keys()].filter((k) => !k.startsWith('in:')),
      ['act', 'seq', 'seq.2', 'head'],
    );
    for (const key of ['act', 'seq', 'seq.2', 'head'])
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
  });

  it('resnet18: downsample (Sequential(conv, bn)) ends in a fused value too, and what relu receives from bn1 is reported', async () => {
    const model = await loadModel(fixture('resnet18').path);
    assert.match(model.module('layer2.0.downsample')!.notObservable!.reason, /cannot tell whether that BatchNorm ran/);
    assert.equal(model.module('layer2.0')!.notObservable, undefined);
    const plan = model.plan({ layers: ['relu', 'layer1.0.relu'], inputs: true });
    assert.deepEqual(
      plan.notObservable.map((u) => u.key),
      ['in:relu#0', 'in:layer1.0.relu:1#0'],
    );
    assert.deepEqual(
      plan.targets.filter((t) => t.kind === 'input').map((t) => t.key),
      ['in:layer1.0.relu:2#0'],
    );
  });

  it('the advice works: exported with TrainingMode.PRESERVE, every module equals PyTorch', async () => {
    const fx = fixture('fused-bn-preserve');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
    assert.deepEqual(acts.notObservable, []);
    const expected = fx.modules.map((m) => m.name);
    assert.deepEqual([...acts.keys()].sort(), [...expected].sort());
    for (const key of expected) assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
  });
});

describe('QDQ-quantized model: captured from the graph ONNX Runtime runs', () => {
  const fx = () => {
    const dir = join(FIXTURES, 'fused-qdq');
    return {
      path: join(dir, 'model.onnx'),
      feeds: Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz'))))),
    };
  };
  const sameBits = (a: { data: unknown }, b: { data: unknown }) =>
    assert.deepEqual(
      new Uint8Array((a.data as Float32Array).buffer.slice(0)),
      new Uint8Array((b.data as Float32Array).buffer.slice(0)),
    );

  it('the fixture is sensitive: the float emulation of its QDQ groups gives other outputs than the integer kernels', async () => {
    const { path, feeds } = fx();
    const fused = await (await loadModel(path)).run(feeds);
    const emulated = await (await loadModel(path, { graphOptimizationLevel: 'basic' })).run(feeds);
    assert.notDeepEqual([...(fused.output.data as Float32Array)], [...(emulated.output.data as Float32Array)]);
  });

  it('outputs under any capture are bit-identical to the plain run', async () => {
    const { path, feeds } = fx();
    const model = await loadModel(path);
    const plain = await model.run(feeds);
    for (const options of [
      { layers: ['values', 'modules'], inputs: true },
      { layers: 'leaves', reduce: 'mean' },
      { layers: 'values', dequantize: true },
    ] as const) {
      const acts = await model.capture(feeds, options);
      sameBits(acts.outputs.output, plain.output);
    }
  });

  it("modules return the integer kernels' values; values fused away are reported", async () => {
    const { path, feeds } = fx();
    const model = await loadModel(path);
    const acts = await model.capture(feeds, {
      layers: ['modules', '/relu1/Relu_output_0_quantized', '/conv1/Conv_output_0'],
    });
    // relu1's DequantizeLinear was removed (MaxPool runs on uint8): recomputed from the quantized value.
    const q = await model.capture(feeds, { layers: ['/relu1/Relu_output_0_quantized'], dequantize: true });
    sameBits(acts.get('relu1')!, q.get('/relu1/Relu_output_0_quantized')!);
    assert.equal(acts.get('/relu1/Relu_output_0_quantized')!.type, 'uint8');
    assert.deepEqual(acts.get('conv3')!.dims, [4, 32, 8, 8]);
    // The QDQ pairs do not hide what a module is; a layer whose weights are stored as int8 says so.
    assert.deepEqual(
      ['conv1', 'relu1', 'pool', 'fc'].map((name) => model.module(name)!.type),
      ['Conv2d (int8)', 'ReLU', 'MaxPool2d', 'Linear (int8)'],
    );
    assert.match(
      acts.whyNotObservable('/conv1/Conv_output_0')!.reason,
      /fused by ONNX Runtime into QLinearConv '\/conv1\/Conv'/,
    );
    // fc's own output is the float Gemm before its QuantizeLinear, which QGemm never computes.
    assert.match(acts.whyNotObservable('fc')!.reason, /fused by ONNX Runtime into QGemm/);
    assert.deepEqual(
      acts.notObservable.map((u) => u.key),
      ['fc', '/conv1/Conv_output_0'],
    );
  });
});

describe('transposes cancelled across module boundaries', () => {
  it('reports both sides of a .t() folded into the next Gemm and of a batch-first stack whose transposes vanished', async () => {
    const fx = fixture('fused-transpose');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    const reported = acts.notObservable.map((u) => u.key);
    // a returns lin(x).t(), c's .t() is its parent's: the graph holds both untransposed, the same way.
    assert.deepEqual(
      reported.filter((k) => !k.startsWith('in:')),
      ['a', 'a.lin', 'c', 'enc', 'l1#0', 'l2#0'],
    );
    assert.match(acts.whyNotObservable('a')!.reason, /transA flag of the Gemm '\/b\/Gemm'/);
    assert.match(acts.notObservable.find((u) => u.key === 'l2#0')!.reason, /time-major/);
    // What b, d and the recurrent layers received is the untransposed value in the graph.
    assert.deepEqual(
      reported.filter((k) => k.startsWith('in:')),
      ['in:b#0', 'in:d#0', 'in:l1#0', 'in:l2#0', 'in:l3#0'],
    );
    // The rest is PyTorch's: l3's output swap survived, and the states never pass a transpose.
    for (const key of ['b', 'd', 'l1#1#0', 'l1#1#1', 'l2#1', 'l3#0', 'l3#1#0', 'l3#1#1'])
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
  });
});
