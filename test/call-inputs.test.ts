/** What a call received: each input keeps its position, whether or not the inputs before it are observable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

describe('call inputs', () => {
  it('an opaque first input is reported under #0 and the second stays #1', async () => {
    const fx = fixture('opaque-first-input'); // join(bn(conv(x)), x), the BatchNorm folded into the Conv
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['join'], inputs: true });
    assert.equal(acts.get('in:join#0'), undefined);
    assert.equal(mismatch(acts.get('in:join#1')!, fx.goldenInputs.get('join#1')!), undefined);
    assert.match(acts.whyNotObservable('join')?.reason ?? '', /./);
  });
});
