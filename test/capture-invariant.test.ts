/**
 * Capturing never changes what the model computes: on every fixture, the model's outputs under a
 * capture of every intermediate value equal the plain run's (bit-exact for integer outputs, 1e-5 for
 * float ones). Extra graph outputs can stop ONNX Runtime's fusions (quantized kernels above all), so
 * this is checked against the plain session, not against PyTorch.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Feeds } from '../src/capture/feeds.js';
import { cacheSymbols, randomFeeds } from '../src/cli/random.js';
import { symbolsOf } from '../src/graph/symbolic-dims.js';
import type { NeurotapModel } from '../src/model.js';
import { loadModel } from '../src/node/index.js';
import { parseNpz } from '../src/formats/npz.js';
import { FIXTURES, outputDifference } from './helpers/fixtures.js';

const FOLDERS = readdirSync(FIXTURES).filter(
  (name) => existsSync(join(FIXTURES, name, 'model.onnx')) && existsSync(join(FIXTURES, name, 'input.npz')),
);

/** The real exports whose weights are all here, run on random inputs (every symbolic size 2). */
const REAL = readdirSync(join(FIXTURES, 'real-models')).filter(
  (f) => f.endsWith('.onnx') && f !== 'smollm-2layer-dynamo.onnx',
);

async function checkUnchanged(name: string, model: NeurotapModel, feeds: Feeds): Promise<void> {
  try {
    const plain = await model.run(feeds);
    const acts = await model.capture(feeds, { layers: ['values', 'modules'], inputs: true });
    assert.ok([...acts.keys()].length > 0, `${name}: nothing captured`);
    for (const out of model.outputNames) {
      assert.ok(acts.outputs[out], `${name}: output ${out} missing under capture`);
      assert.equal(outputDifference(acts.outputs[out], plain[out]), undefined, `${name}: output ${out}`);
    }
  } finally {
    await model.release();
  }
}

describe('capture leaves the model outputs unchanged', () => {
  for (const name of FOLDERS) {
    it(name, async () => {
      const dir = join(FIXTURES, name);
      const feeds = Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz')))));
      await checkUnchanged(name, await loadModel(join(dir, 'model.onnx')), feeds);
    });
  }
  for (const file of REAL) {
    it(`real-models/${file}`, async () => {
      const model = await loadModel(join(FIXTURES, 'real-models', file));
      const sizes = new Map<string, number>();
      const cache = cacheSymbols(model); // a KV cache starts empty: its sizes are derived
      for (const v of model.inputs)
        for (const d of v.shape ?? [])
          if (typeof d === 'string')
            for (const s of symbolsOf(d)) if (!cache.past.has(s) && !cache.total.has(s)) sizes.set(s, 2);
      await checkUnchanged(file, model, randomFeeds(model, model.inputNames, sizes, 0));
    });
  }
});
