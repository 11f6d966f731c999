/**
 * Fidelity: for every fixture, each module's captured tensor equals what PyTorch's forward hook
 * returned (rtol 1e-3), or the module is reported not observable with a reason; never silently different.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { assertMatchesGoldens, FIXTURES, fixture, INVISIBLE, mismatch } from './helpers/fixtures.js';

/** Every fixture folder with PyTorch goldens (scripts/make_fixtures.py and scripts/fixtures_*.py write them). */
const MODELS = readdirSync(FIXTURES).filter((name) => existsSync(join(FIXTURES, name, 'golden.npz')));

describe('fidelity against PyTorch forward hooks', () => {
  for (const name of MODELS) {
    it(name, async () => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
      // The model's own outputs are unchanged by capturing.
      model.outputNames.forEach((out, i) =>
        assert.equal(mismatch(acts.outputs[out], fx.golden.get(`__output__#${i}`)!), undefined, `output ${out}`),
      );
      const compared = assertMatchesGoldens(acts, fx, name, INVISIBLE[name]);
      assert.ok(compared > 0);
    });
  }
});
