/**
 * Calls whose number or extent the TorchScript exporter loses (issue 9, pattern 6; fixture
 * calls-merged, torch 1.13): a call number is never handed out where it may be PyTorch's other call,
 * and a parent whose calls the export merges into one is reported, while its children keep their keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

async function capture(name: string, layers: string[] | string = 'modules') {
  const fx = fixture(name);
  const model = await loadModel(fx.path);
  const acts = await model.capture(Object.fromEntries(fx.inputs), { layers, inputs: true });
  return { fx, model, acts };
}

describe('calls merged by the exporter (pattern 6)', () => {
  it('every call number handed out is PyTorch’s own: equal to its hook output', async () => {
    const { fx, acts } = await capture('calls-merged');
    for (const [key, tensor] of acts) {
      const expected = key.startsWith('in:') ? fx.goldenInputs.get(key.slice(3)) : fx.golden.get(key);
      assert.ok(expected, `'${key}' is not a PyTorch hook key`);
      assert.equal(mismatch(tensor, expected), undefined, key);
    }
    assert.deepEqual(
      [...acts.keys()].filter((k) => !k.startsWith('in:')),
      ['lin:1', 'proj.lin:1', 'proj.lin:2', 'block.lin:1', 'block.lin:2', 'block.act:1', 'block.act:2'],
    );
  });

  it('a = lin(x); b = lin(x); c = lin(a): the graph’s second call is PyTorch’s third, so lin:2 is reported', async () => {
    const { fx, acts } = await capture('calls-merged', ['lin', '/lin_1/Gemm_output_0']);
    // What the export calls lin's second call is c = lin(a), PyTorch's call 3 (call 2, b, was merged into call 1).
    assert.equal(mismatch(acts.get('/lin_1/Gemm_output_0')!, fx.golden.get('lin:3')!), undefined);
    assert.notEqual(mismatch(acts.get('/lin_1/Gemm_output_0')!, fx.golden.get('lin:2')!), undefined);
    assert.equal(acts.get('lin:2'), undefined);
    assert.equal(mismatch(acts.get('lin:1')!, fx.golden.get('lin:1')!), undefined);
    const reason = acts.notObservable.find((u) => u.key === 'lin:2')!.reason;
    assert.match(reason, /^ambiguous call number: '\/Mul_3' reads this module's call 1 output twice/);
    assert.match(reason, /common-subexpression pass merged/);
    assert.deepEqual(
      acts.notObservable.map((u) => u.key),
      ['lin:2', 'in:lin:2#0'],
    );
  });

  it('a parent whose two identical calls were merged into one: it and its once-called children reported', async () => {
    const { acts } = await capture('calls-merged');
    assert.match(
      acts.whyNotObservable('twin')!.reason,
      /PyTorch may then have called it twice, with keys twin:1 and twin:2/,
    );
    for (const child of ['twin.lin', 'twin.act'])
      assert.match(
        acts.whyNotObservable(child)!.reason,
        /^ambiguous: its parent 'twin' may be two calls merged into one/,
      );
    assert.ok(![...acts.keys()].some((k) => k.startsWith('twin')));
  });

  it('a parent called twice whose children are exported as /block/lin, /block/lin_1: reported, its children returned', async () => {
    const { acts, model } = await capture('calls-merged');
    assert.match(acts.whyNotObservable('block')!.reason, /its 2 calls cannot be told apart/);
    assert.match(acts.whyNotObservable('block')!.reason, /'\/block\/lin\/Gemm'/);
    // Without own nodes, proj(x) * proj(y) looks like one call of proj calling proj.lin twice.
    assert.match(
      acts.whyNotObservable('proj')!.reason,
      /^ambiguous: it has no node of its own and its child 'proj\.lin' is called 2 times/,
    );
    // No in:proj#1 or in:block:1#1: keys PyTorch's pre-hooks never had.
    assert.ok(![...acts.keys()].some((k) => /^in:(proj|block)[#:]/.test(k)));
    assert.equal(model.module('block')!.calls.length, 2);
  });

  it('calls with their own evidence stay numbered: twice (proj:1, proj:2) and resnet18 (a block calling relu twice)', async () => {
    const twice = await capture('twice');
    assert.ok(twice.acts.get('proj:1') && twice.acts.get('proj:2'));
    assert.deepEqual(twice.acts.notObservable, []);
    const resnet = await loadModel(fixture('resnet18').path);
    assert.equal(resnet.module('layer1.0')!.notObservable, undefined);
    assert.equal(resnet.module('layer1.0.relu')!.calls.length, 2);
  });
});
