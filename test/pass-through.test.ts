/**
 * `return x, f(x)` (issue 9, pattern 3, the general case; fixture pass-through): a module returning
 * its own input as a tuple element leaves only its input in the graph. Where one node outside reads
 * the input next to the module's output, the module is reported, whatever ops it has; never the
 * other element under the bare key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

describe('pass-through tuple elements (pattern 3)', () => {
  it('a module with ops of its own and a leaf returning their input: reported, the rest equals PyTorch', async () => {
    const fx = fixture('pass-through');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
    // PyTorch's hooks see pair#0, pair#1 and leaf#0, leaf#1: no bare pair or leaf key.
    assert.deepEqual([...acts.keys()].sort(), ['gate.lin', 'head', 'pair.lin', 'pre', 'res', 'tail']);
    for (const [key, tensor] of acts) assert.equal(mismatch(tensor, fx.golden.get(key)!), undefined, key);
    const reason = (key: string) => acts.whyNotObservable(key)!.reason;
    assert.match(
      reason('pair'),
      /^ambiguous: its input '\/pre\/Gemm_output_0' is read outside the call next to its output \(by Concat '\/Concat'\)/,
    );
    assert.match(reason('pair'), /may return its input as a tuple element/);
    assert.match(reason('leaf'), /by Mul '\/Mul'/);
    // gate returns one tensor that its parent multiplies with gate's input: the same graph, so reported too.
    assert.match(
      reason('gate'),
      /a module returning only its output to a parent that computes Mul\(x, f\(x\)\) gives the same graph/,
    );
  });

  it('what stays observable: a residual sum, torch.nn layers (a Linear whose input is read beside it)', async () => {
    const fx = fixture('pass-through');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['res', 'pair.lin'] });
    assert.equal(mismatch(acts.get('res')!, fx.golden.get('res')!), undefined);
    assert.deepEqual(acts.notObservable, []);
    // tuples-dict: enc.head (a Linear) is read by the parent's Mul next to its input f, and stays a Linear.
    const dict = fixture('tuples-dict');
    const d = await (await loadModel(dict.path)).capture(Object.fromEntries(dict.inputs), { layers: ['enc.head'] });
    assert.equal(mismatch(d.get('enc.head')!, dict.golden.get('enc.head')!), undefined);
  });
});
