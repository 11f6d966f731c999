/**
 * Batch-first recurrent modules called on a transposed value (`gru(y.transpose(1, 2))`): the exporter
 * merges that transpose with the module's own batch-first swap (fixtures recurrent-transposed*,
 * scripts/fixtures_recurrent_fix.py). What the module received is returned only where the graph
 * still holds it, and the zero h0 the exporter builds from a Shape is no input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

const MODULES = ['gru_in', 'gru_seq', 'gru_out', 'enc', 'enc.lstm'];

async function captureInputs(name: string, layers = MODULES) {
  const fx = fixture(name);
  const model = await loadModel(fx.path);
  const acts = await model.capture(Object.fromEntries(fx.inputs), { layers, inputs: true });
  const inputKeys = [...acts.keys()].filter((k) => k.startsWith('in:')).sort();
  return { fx, acts, inputKeys };
}

describe('recurrent inputs behind a merged transpose', () => {
  it('dynamic batch: the Shape-read value is what each module received, and the only input', async () => {
    // gru_swap(y.transpose(0, 1)): the caller's swap and the module's cancelled, the op reads y.
    const { fx, acts, inputKeys } = await captureInputs('recurrent-transposed', [...MODULES, 'gru_swap']);
    assert.deepEqual(inputKeys, [
      'in:enc#0',
      'in:enc.lstm#0',
      'in:gru_in#0',
      'in:gru_out#0',
      'in:gru_seq#0',
      'in:gru_swap#0',
    ]);
    for (const key of inputKeys) {
      const expected = fx.goldenInputs.get(key.slice(3))!;
      assert.equal(mismatch(acts.get(key)!, expected), undefined, key);
    }
    assert.deepEqual(acts.get('in:gru_in#0')!.dims, [2, 8, 4]); // PyTorch's, not the untransposed [2, 4, 8]
    assert.deepEqual(acts.get('in:gru_swap#0')!.dims, [4, 2, 8]);
    // _, h = gru(x): h_n under #1, the unused sequence reported under #0, no bare key.
    assert.equal(mismatch(acts.get('gru_in#1')!, fx.golden.get('gru_in#1')!), undefined);
    assert.equal(acts.get('gru_in'), undefined);
    assert.match(acts.whyNotObservable('gru_in#0')?.reason ?? '', /never uses the output sequence/);
    assert.deepEqual(
      acts.notObservable.filter((u) => u.key.startsWith('in:')),
      [],
    );
  });

  it('static shapes: no value in the graph is what the modules received, so their inputs are reported', async () => {
    const { acts, inputKeys } = await captureInputs('recurrent-transposed-static');
    assert.deepEqual(inputKeys, ['in:gru_out#0']);
    const reported = acts.notObservable.filter((u) => u.key.startsWith('in:'));
    assert.deepEqual(reported.map((u) => u.key).sort(), ['in:enc#0', 'in:enc.lstm#0', 'in:gru_in#0', 'in:gru_seq#0']);
    for (const u of reported) assert.match(u.reason, /merged the transpose before this batch-first recurrent call/);
  });

  it("the output transpose merged after the module: gru_out's sequence is reported, its h_n returned", async () => {
    for (const name of ['recurrent-transposed', 'recurrent-transposed-static']) {
      const { fx, acts } = await captureInputs(name);
      assert.equal(acts.get('gru_out#0'), undefined);
      assert.match(acts.whyNotObservable('gru_out#0')?.reason ?? '', /time-major/);
      assert.equal(mismatch(acts.get('gru_out#1')!, fx.golden.get('gru_out#1')!), undefined);
    }
  });
});
