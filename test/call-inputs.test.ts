/** What a call received: each input keeps its position where evidence gives it, and is reported where not. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

describe('call inputs', () => {
  it('two values entering a call without argument order are both reported, the opaque one with its own reason', async () => {
    const fx = fixture('opaque-first-input'); // join(bn(conv(x)), x), the BatchNorm folded into the Conv
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['join'], inputs: true });
    assert.equal(acts.get('in:join#0'), undefined);
    assert.equal(acts.get('in:join#1'), undefined);
    assert.doesNotMatch(acts.whyNotObservable('in:join#0')?.reason ?? '', /ambiguous/);
    assert.match(acts.whyNotObservable('in:join#1')?.reason ?? '', /^ambiguous: 2 values enter this call/);
    assert.match(acts.whyNotObservable('join')?.reason ?? '', /./);
  });

  it("nn.MultiheadAttention's query, key and value are its inputs; the masks get no key", async () => {
    const fx = fixture('seq-attention'); // self_attn(q, q, q, attn_mask=…), then cross(a, m, m, key_padding_mask=…)
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['self_attn', 'cross'], inputs: true });
    for (const key of ['self_attn#0', 'self_attn#1', 'self_attn#2', 'cross#1', 'cross#2'])
      assert.equal(mismatch(acts.get(`in:${key}`)!, fx.goldenInputs.get(key)!), undefined, key);
    // Both are batch-first: self_attn's output swap and cross's query swap cancelled, so the graph
    // holds cross's query time-major.
    assert.match(acts.whyNotObservable('in:cross#0')?.reason ?? '', /cancelled its swap/);
    assert.deepEqual([...acts.keys()].filter((k) => k.startsWith('in:')).sort(), [
      'in:cross#1',
      'in:cross#2',
      'in:self_attn#0',
      'in:self_attn#1',
      'in:self_attn#2',
    ]);
  });
});
