/**
 * Fidelity on ONNX Runtime-optimised files: every fixture with PyTorch goldens, saved by
 * onnxruntime-node at each graph optimisation level (`optimizedModelFilePath`, what users get from a
 * saved optimised model), then loaded as the model. Every key equals PyTorch's hook or is reported;
 * no key is invented; the outputs under capture equal the plain run and PyTorch's.
 * ONNX Runtime's rewrites (fusions, reordering, transposes moved, functions inlined, NCHWc layout,
 * integer kernels) are read in src/modules/runtime-rewrites.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../src/node/index.js';
import { assertMatchesGoldens, FIXTURES, fixture, INVISIBLE, mismatch, outputDifference } from './helpers/fixtures.js';

const MODELS = readdirSync(FIXTURES).filter((name) => existsSync(join(FIXTURES, name, 'golden.npz')));
const LEVELS = ['basic', 'extended', 'all'] as const;

/**
 * Modules an optimised file leaves no name of, so nothing can report them: an activation fused into
 * a Conv or Gemm whose output became the graph output (its value name is gone), and at level 'all'
 * the Convs rewritten to NCHWc kernels, whose weights ONNX Runtime renames (`reorder_token_0`) and
 * whose node is named after the value it computes (with the modules that held nothing else).
 */
const NO_NAME_LEFT: Record<string, Partial<Record<(typeof LEVELS)[number], RegExp>>> = {
  'seed-cnn': { extended: /^4$/, all: /^4$/ },
  'hf-bert': { extended: /^pooler\.activation$/, all: /^pooler\.activation$/ },
  'digits-cnn': { all: /^conv1$/ },
  'fused-bn': { all: /^stem(\.conv)?$/ },
  'fused-bn-preserve': { all: /^(stem(\.conv)?|bn|block\.conv)$/ },
  'quant-fake': { all: /^head$/ },
  'quant-stubs': { all: /^head$/ },
  resnet18: { all: /(^|\.)conv1$/ },
  'resnet18-preserve': { all: /(^|\.)conv[12]$/ },
  'tuples-unet': { all: /^out$/ },
  'vision-list-input': { all: /^(block\.layers\.\d\.conv|head)$/ },
  'vision-untraced': { all: /^(conv1|block\.0\.0)$/ },
  // The ReLU fused into the Conv before it (FusedConv), the Conv rewritten to NCHWc at 'all'.
  'nnzoo-reused-parent': { extended: /^blk\.act$/, all: /^blk(\.conv|\.act)?$/ },
  // The same: b's ReLU fused into its Conv (the graph output), the Convs rewritten to NCHWc at 'all'.
  'nnzoo-dedup-bias': { extended: /^b\.relu$/, all: /^(a\.conv|b(\.conv|\.relu)?)$/ },
  // The last LayerNorm, whose output is the graph output, fused away with its name.
  'outputs-shared-mask': { extended: /^enc\.layers\.1\.norm2$/, all: /^enc\.layers\.1\.norm2$/ },
  // ONNX Runtime folds the parametrization into an initializer: the parameter that named it is gone.
  'nnzoo-parametrize': {
    basic: /^0\.parametrizations\.weight(\.0)?$/,
    extended: /^0\.parametrizations\.weight(\.0)?$/,
    all: /^0\.parametrizations\.weight(\.0)?$/,
  },
};

const folder = mkdtempSync(join(tmpdir(), 'neurotap-ort-levels-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** The fixture as onnxruntime-node saves it optimised at `level` (CPU execution provider). */
async function optimized(name: string, level: (typeof LEVELS)[number]): Promise<string> {
  const file = join(folder, `${name}.${level}.onnx`);
  const session = await ort.InferenceSession.create(join(FIXTURES, name, 'model.onnx'), {
    graphOptimizationLevel: level,
    executionProviders: ['cpu'],
    optimizedModelFilePath: file,
    logSeverityLevel: 3, // level 'all' warns that NCHWc files are hardware-specific
  });
  await session.release();
  return file;
}

function either(a: RegExp | undefined, b: RegExp | undefined): RegExp | undefined {
  if (!a || !b) return a ?? b;
  return new RegExp(`(${a.source})|(${b.source})`);
}

describe("fidelity on ONNX Runtime's optimised files (levels basic, extended, all)", () => {
  for (const level of LEVELS)
    for (const name of MODELS)
      it(`${name} at '${level}'`, async () => {
        const fx = fixture(name);
        const model = await loadModel(await optimized(name, level));
        try {
          const feeds = Object.fromEntries(fx.inputs);
          const plain = await model.run(feeds);
          const acts = await model.capture(feeds, { layers: 'modules', inputs: true });
          model.outputNames.forEach((out, i) => {
            assert.equal(outputDifference(acts.outputs[out], plain[out]), undefined, `output ${out} under capture`);
            assert.equal(mismatch(acts.outputs[out], fx.golden.get(`__output__#${i}`)!), undefined, `output ${out}`);
          });
          assertMatchesGoldens(acts, fx, `${name}@${level}`, either(INVISIBLE[name], NO_NAME_LEFT[name]?.[level]));
        } finally {
          await model.release();
        }
      });
});
