/**
 * Fidelity: for every fixture, each module's captured tensor equals what PyTorch's forward hook
 * returned (rtol 1e-3), or the module is reported not observable with a reason; never silently different.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { assertMatchesGoldens, FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

/** Every fixture folder with PyTorch goldens (scripts/make_fixtures.py and scripts/fixtures_*.py write them). */
const MODELS = readdirSync(FIXTURES).filter((name) => existsSync(join(FIXTURES, name, 'golden.npz')));

/** Modules that a TorchScript export leaves no trace of, so no module map can list them. */
const INVISIBLE: Record<string, RegExp> = {
  // BatchNorm folded into the Conv before it: neither its nodes nor its parameters survive.
  resnet18: /(^|\.)(bn\d|downsample\.1)$/,
  'fused-bn': /(^|\.)bn$|^seq\.1$/,
  'opaque-first-input': /^bn$/,
  // A DeQuantStub before convert is an identity: no node, no parameter.
  'quant-fake': /^dequant$/,
  // Dropout in eval exports as nothing (HF's tiny GPT-2 and BERT, scripts/fixtures_transformers.py).
  'hf-gpt2': /(^|\.)(drop|attn_dropout|resid_dropout|dropout)$/,
  'hf-bert': /\.dropout$/,
};

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
