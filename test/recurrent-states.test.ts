/**
 * Stacked and bidirectional recurrent modules whose final states the model never uses (issue 9,
 * pattern 4): the export keeps one state per layer op; neurotap concatenates them in the graph it
 * captures, which is exactly PyTorch's h_n / c_n. Fixtures rnn-states (scripts/fixtures_fidelity.py)
 * and rnn-deep.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

async function capture(name: string) {
  const fx = fixture(name);
  const model = await loadModel(fx.path);
  const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
  return { fx, model, acts };
}

describe('h_n assembled from per-layer states (pattern 4)', () => {
  it('2-layer LSTM, 2-layer bidirectional GRU, 3-layer RNN: h_n (and c_n) equal PyTorch’s, layer-major', async () => {
    const { fx, acts } = await capture('rnn-states');
    const expected: Record<string, number[]> = {
      'lstm#1#0': [2, 2, 8],
      'lstm#1#1': [2, 2, 8],
      'gru#1': [4, 2, 5],
      'rnn#1': [3, 2, 4],
    };
    for (const [key, dims] of Object.entries(expected)) {
      assert.deepEqual(acts.get(key)?.dims, dims, key);
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    }
    assert.equal(mismatch(acts.get('gru#0')!, fx.golden.get('gru#0')!), undefined);
    assert.equal(mismatch(acts.get('rnn#0')!, fx.golden.get('rnn#0')!), undefined);
    // The batch-first LSTM's sequence: its transpose cancelled against the caller's, reported as before.
    assert.match(acts.whyNotObservable('lstm#0')!.reason, /time-major only/);
    assert.equal(mismatch(acts.outputs.out, fx.golden.get('__output__#0')!), undefined);
  });

  it('the plain run is the model’s own graph; a state the model uses keeps the exporter’s Concat', async () => {
    const { fx, model, acts } = await capture('rnn-deep');
    assert.deepEqual(acts.get('lstm#1#0')!.dims, [4, 2, 16]);
    assert.equal(mismatch(acts.get('lstm#1#0')!, fx.golden.get('lstm#1#0')!), undefined);
    assert.equal(mismatch(acts.get('lstm#1#1')!, fx.golden.get('lstm#1#1')!), undefined);
    assert.deepEqual(model.module('gru')!.calls[0].outputs.slice(1), ['/gru/Concat_1_output_0']);
    const plain = await model.run(Object.fromEntries(fx.inputs));
    assert.equal(mismatch(plain.output, fx.golden.get('__output__#0')!), undefined);
  });
});
