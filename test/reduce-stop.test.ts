/** In-graph reductions and early stop give the same numbers as reducing PyTorch's tensors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { fixture, mismatch } from './helpers/fixtures.js';

/** Reference reduction of a golden (N, A, B...) tensor over `axis` or the trailing axes after 1. */
function reduceRef(t: HostTensor, op: 'mean' | 'max' | 'last', mode: 'spatial' | 'time'): HostTensor {
  const [n, a] = t.dims;
  const data = t.data as Float32Array;
  if (mode === 'spatial') {
    const inner = data.length / (n * a);
    const out = new Float32Array(n * a);
    for (let i = 0; i < n * a; i++) {
      const slice = data.subarray(i * inner, (i + 1) * inner);
      out[i] = op === 'max' ? Math.max(...slice) : slice.reduce((s, v) => s + v, 0) / inner;
    }
    return { type: 'float32', dims: [n, a], data: out };
  }
  const f = data.length / (n * a);
  const out = new Float32Array(n * f);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      const col = Array.from({ length: a }, (_, s) => data[(i * a + s) * f + j]);
      out[i * f + j] =
        op === 'last' ? col[a - 1] : op === 'max' ? Math.max(...col) : col.reduce((s, v) => s + v, 0) / a;
    }
  }
  return { type: 'float32', dims: [n, ...t.dims.slice(2)], data: out };
}

describe('reduce', () => {
  it('mean and max over spatial axes, per layer pattern', async () => {
    const fx = fixture('resnet18-preserve');
    const model = await loadModel(fx.path);
    const acts = await model.capture(
      { x: fx.inputs.get('x')! },
      { layers: ['layer1.0.conv1', 'layer2.1.bn2', 'fc'], reduce: { 'layer1.*': 'mean', 'layer2.*': 'max' } },
    );
    assert.equal(
      mismatch(acts.get('layer1.0.conv1')!, reduceRef(fx.golden.get('layer1.0.conv1')!, 'mean', 'spatial')),
      undefined,
    );
    assert.equal(
      mismatch(acts.get('layer2.1.bn2')!, reduceRef(fx.golden.get('layer2.1.bn2')!, 'max', 'spatial')),
      undefined,
    );
    assert.equal(mismatch(acts.get('fc')!, fx.golden.get('fc')!), undefined, 'unmatched layers are not reduced');
  });

  it('time-mean and last step of a sequence', async () => {
    const fx = fixture('rnn');
    const model = await loadModel(fx.path);
    const feeds = Object.fromEntries(fx.inputs);
    const last = await model.capture(feeds, { layers: ['lstm'], reduce: { lstm: 'last' } });
    assert.equal(mismatch(last.get('lstm#0')!, reduceRef(fx.golden.get('lstm#0')!, 'last', 'time')), undefined);
    const mean = await model.capture(feeds, { layers: ['embed'], reduce: 'time-mean' });
    assert.equal(mismatch(mean.get('embed')!, reduceRef(fx.golden.get('embed')!, 'mean', 'time')), undefined);
  });

  it('rejects an unknown reduction', async () => {
    const model = await loadModel(fixture('seed-mlp').path);
    await assert.rejects(
      model.capture(Object.fromEntries(fixture('seed-mlp').inputs), { reduce: 'median' as never }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
  });
});

describe('early stop', () => {
  it('runs only what the requested layers need and returns the same tensors', async () => {
    const fx = fixture('resnet18-preserve');
    const model = await loadModel(fx.path);
    const acts = await model.capture({ x: fx.inputs.get('x')! }, { layers: ['layer1'], stop: true });
    assert.deepEqual(Object.keys(acts.outputs), []);
    assert.equal(mismatch(acts.get('layer1')!, fx.golden.get('layer1')!), undefined);
  });
});
