/**
 * Export optimisations that fuse values across module boundaries (issue 9, patterns 5, 7, 12): every
 * module whose output the fused graph does not hold is reported with the reason, never returned.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

describe('BatchNorm folded into a Conv owned by another module', () => {
  it('reports the Conv and every module whose output is the fused value; the rest equals PyTorch', async () => {
    const fx = fixture('fused-bn');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    // stem wraps the Conv alone (its BatchNorm is the parent's), block holds Conv and BN: both end in the fused value.
    assert.deepEqual(
      acts.notObservable.filter((u) => !u.key.startsWith('in:')).map((u) => u.key),
      ['stem', 'stem.conv', 'block', 'block.conv', 'seq.0'],
    );
    assert.match(acts.whyNotObservable('stem')!.reason, /cannot tell whether that BatchNorm ran inside this module/);
    assert.match(acts.whyNotObservable('stem.conv')!.reason, /folded the next BatchNorm into this Conv/);
    for (const key of ['stem', 'block', 'seq.0']) {
      const { hint } = acts.whyNotObservable(key)!;
      assert.match(hint, /TrainingMode\.PRESERVE/);
      assert.match(hint, /do_constant_folding=False does not keep them/);
    }
    // What act, seq and seq.2 received: the fused value, bn(conv(x)) only if the BatchNorm ran before them.
    assert.deepEqual(
      acts.notObservable.filter((u) => u.key.startsWith('in:')).map((u) => u.key),
      ['in:act', 'in:seq', 'in:seq.2'],
    );
    assert.deepEqual(
      [...acts.keys()].filter((k) => !k.startsWith('in:')),
      ['act', 'seq', 'seq.2', 'head'],
    );
    for (const key of ['act', 'seq', 'seq.2', 'head'])
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
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
