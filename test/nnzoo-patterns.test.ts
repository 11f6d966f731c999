/**
 * torch.nn layer classes and idioms found by the nnzoo sweep (scripts/sweep/cases_nnzoo.py), where
 * the fidelity suite alone would pass a defect: a key reported although the graph holds it exactly
 * (a false reason) must be returned.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { fixture, mismatch } from './helpers/fixtures.js';

/** Captures every module with its inputs; asserts that every golden key but `reported` is returned and equal. */
async function assertEveryKeyReturned(name: string, reported: RegExp[] = []): Promise<void> {
  const fx = fixture(name);
  const model = await loadModel(fx.path);
  try {
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    assert.deepEqual(
      acts.notObservable.map((u) => `${u.key}: ${u.reason}`).filter((line) => !reported.some((r) => r.test(line))),
      [],
    );
    const inputs = [...fx.goldenInputs].map(([k, v]) => [`in:${k}`, v] as const);
    for (const [key, golden] of [...fx.golden, ...inputs]) {
      if (key.startsWith('__output__') || reported.some((r) => r.test(`${key}: ${acts.whyNotObservable(key)?.reason}`)))
        continue;
      assert.ok(acts.has(key), `${name}: ${key} not returned`);
      assert.equal(mismatch(acts.get(key)!, golden), undefined, `${name}: ${key}`);
    }
  } finally {
    await model.release();
  }
}

describe('nnzoo: exact values are returned, not reported', () => {
  it('weight_norm: a Conv whose weight constant folding computed (its bias its own) holds conv(x), no BatchNorm', () =>
    assertEveryKeyReturned('nnzoo-weight-norm'));

  it('parametrize: the ModuleDict scopes drop is restored from the parameter path, and the weight read with transB is what the parametrization returned', () =>
    assertEveryKeyReturned('nnzoo-parametrize', [
      /^in:0\.parametrizations\.weight\.0#0: it receives the parameter '0\.parametrizations\.weight\.original'/,
    ]));
});
