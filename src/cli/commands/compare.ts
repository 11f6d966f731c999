/**
 * `neurotap compare A.onnx B --input NAME=FILE ...`: runs A, and B when it is a second .onnx (or
 * reads B as a reference .safetensors/.npz, e.g. from `neurotap_torch.dump`), and compares every
 * key by PyTorch module name and call. Exit 0 when every compared key is within tolerance, 3 when
 * one is not (2 bad input, 1 runtime failure).
 */
import { basename, extname } from 'node:path';
import { defineCommand, type ArgsDef } from 'citty';
import {
  compareCaches,
  compareModels,
  explainFromModel,
  inExecutionOrder,
  type Comparison,
} from '../../compare/compare.js';
import { castFeedsTo } from '../../compare/cast-feeds.js';
import { referenceModuleTypes } from '../../compare/reference-modules.js';
import { NeurotapError } from '../../errors.js';
import { parseNpz, takeNpzMetadata } from '../../formats/npz.js';
import { parseSafetensors } from '../../formats/safetensors.js';
import { recomputedOf } from '../../capture/recomputed-marks.js';
import type { NeurotapModel } from '../../model.js';
import { readFileBytes, writeFileAtomic } from '../../node/files.js';
import type { HostTensor } from '../../tensor.js';
import { isSet, lastValue, scanFlags, type FlagCommand, type ScannedFlags } from '../argv.js';
import { comparisonJson, comparisonText } from '../compare-view.js';
import { renderComparison } from '../compare-html.js';
import { dimSizesOf, FLAGS, seedOf, threadsOf } from '../flags.js';
import { loadInputFiles, parseInputFlag } from '../inputs.js';
import { openModel } from '../model-info.js';
import { note } from '../print-error.js';
import { randomFeeds } from '../random.js';

/** Exit code when the comparison ran and some key is over tolerance. */
export const EXIT_DIVERGED = 3;

const args = {
  a: { type: 'positional', required: true, description: 'The .onnx model to check (A)' },
  b: {
    type: 'positional',
    required: true,
    description: 'The reference (B): a second .onnx, or a .safetensors/.npz of activations keyed as neurotap keys',
  },
  input: FLAGS.input,
  random: FLAGS.random,
  seed: FLAGS.seed,
  dim: FLAGS.dim,
  layers: { ...FLAGS.layers, description: `${FLAGS.layers.description.replace('default leaves', 'default modules')}` },
  atol: { type: 'string', valueHint: 'X', description: 'Absolute tolerance (default 1e-4)' },
  rtol: {
    type: 'string',
    valueHint: 'Y',
    description: 'Relative tolerance: over when |a-b| > atol + rtol·|b| (default 1e-3)',
  },
  json: { type: 'boolean', description: 'Print one JSON object instead of the table' },
  report: {
    type: 'string',
    valueHint: 'cmp.html',
    description: 'Write a self-contained HTML report (SQNR by depth, error histograms)',
  },
  'ep-a': { type: 'string', valueHint: 'LIST', description: 'Execution providers for A, e.g. cpu or cuda,cpu' },
  'ep-b': { type: 'string', valueHint: 'LIST', description: 'Execution providers for B (B may be A itself)' },
  threads: FLAGS.threads,
  debug: { type: 'boolean', description: 'Print stack traces with errors' },
} satisfies ArgsDef;

const HINT = 'E.g. neurotap compare model.onnx model-fp16.onnx --input x=x.npy, or B = dump.safetensors.';

const command: FlagCommand = {
  ...defineCommand<ArgsDef>({
    meta: {
      name: 'compare',
      description: 'Compare the activations of two exports, or of an export and a PyTorch dump, key by key',
    },
    args,
  }),
  async runWith(rawArgs) {
    const flags = scanFlags(rawArgs, args, 'compare');
    if (flags.positionals.length !== 2) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `neurotap compare takes A and B; got ${flags.positionals.length} argument(s).`,
        { hint: HINT },
      );
    }
    return compare(flags.positionals[0], flags.positionals[1], flags);
  },
};
export default command;

function tolerance(flags: ScannedFlags, name: 'atol' | 'rtol'): number | undefined {
  const text = lastValue(flags, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --${name} to be a number >= 0; got '${text}'.`, {
      hint: `E.g. --${name} 1e-3; fp16 exports need about 1e-2.`,
    });
  return value;
}

function providers(flags: ScannedFlags, name: string): string[] | undefined {
  return lastValue(flags, name)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

async function feedsFor(model: NeurotapModel, flags: ScannedFlags, json: boolean): Promise<Record<string, HostTensor>> {
  const inputFlags = (flags.values.get('input') ?? []).map((text) => parseInputFlag(text, model.inputNames));
  if (inputFlags.length === 0 && !isSet(flags, 'random'))
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      'compare needs input data: --input FILE, --input NAME=FILE, or --random.',
      { hint: HINT },
    );
  const feeds = await loadInputFiles(model, inputFlags, { imagenet: false, grayscale: false }, (t) => note(t, json));
  const rest = model.inputNames.filter((n) => !(n in feeds));
  if (rest.length === 0 || !isSet(flags, 'random')) return feeds;
  return { ...feeds, ...randomFeeds(model, rest, dimSizesOf(flags), seedOf(flags)) };
}

/** A reference file of activations: .safetensors or .npz, keyed as neurotap keys, with its module classes and the keys it marks recomputed. */
async function readReference(
  path: string,
): Promise<{ tensors: Map<string, HostTensor>; types: Map<string, string>; recomputed: Record<string, string> }> {
  const bytes = await readFileBytes(path, 'reference');
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') {
    const { tensors, metadata } = parseSafetensors(bytes);
    return {
      tensors,
      types: referenceModuleTypes(metadata['neurotap.modules']),
      recomputed: recomputedOf(metadata),
    };
  }
  if (ext === '.npz') {
    const tensors = parseNpz(bytes);
    // neurotap_torch.dump's module tree, or neurotap extract's recomputed keys, as JSON bytes
    const metadata = takeNpzMetadata(tensors);
    return { tensors, types: referenceModuleTypes(metadata['neurotap.modules']), recomputed: recomputedOf(metadata) };
  }
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected B to be .onnx, .safetensors or .npz; got ${path}.`, {
    hint: HINT,
  });
}

/** Keys either side holds as recomputed tensors (not read from a graph), said so nobody mistakes them. */
function recomputedText(r: { a: Record<string, string>; b: Record<string, string> } | undefined): string {
  if (!r) return '';
  const side = (name: string, marks: Record<string, string>) =>
    Object.keys(marks).length
      ? `recomputed in ${name} (not read from the graph): ${Object.keys(marks).join(', ')}\n`
      : '';
  return side('A', r.a) + side('B', r.b);
}

async function compare(pathA: string, pathB: string, flags: ScannedFlags): Promise<number> {
  const json = isSet(flags, 'json');
  const options = { atol: tolerance(flags, 'atol'), rtol: tolerance(flags, 'rtol') };
  const layers = [...(flags.values.get('layers') ?? ['modules'])];
  const threads = threadsOf(flags);
  const report = lastValue(flags, 'report');
  if (report !== undefined && !/\.html?$/i.test(report))
    throw new NeurotapError('E_OUTPUT_PATH', `Expected --report to end in .html; got ${report}.`, {
      hint: 'E.g. --report cmp.html.',
    });
  const modelA = await openModel(pathA, threads, providers(flags, 'ep-a'));
  const opened: NeurotapModel[] = [modelA];
  try {
    modelA.plan({ layers }); // an unknown layer fails before any input is read
    const feeds = await feedsFor(modelA, flags, json);
    let result: Comparison;
    let recomputed: { a: Record<string, string>; b: Record<string, string> } | undefined;
    if (extname(pathB).toLowerCase() === '.onnx') {
      const modelB = await openModel(pathB, threads, providers(flags, 'ep-b'));
      opened.push(modelB);
      result = await compareModels(modelA, modelB, feeds, { ...options, layers });
    } else {
      const { tensors: reference, types, recomputed: inB } = await readReference(pathB);
      const inputs = [...reference.keys()].some((k) => k.startsWith('in:'));
      const acts = await modelA.capture(castFeedsTo(modelA, feeds), { layers, dequantize: true, inputs });
      const inA = recomputedOf(acts.fileMetadata());
      if (Object.keys(inA).length + Object.keys(inB).length) recomputed = { a: inA, b: inB };
      result = compareCaches(inExecutionOrder(modelA, acts), reference, {
        ...options,
        missingInA: explainFromModel(modelA, acts, 'A', types),
        missingInB: () => 'the reference holds no such key',
      });
    }
    if (report !== undefined)
      await writeFileAtomic(
        report,
        new TextEncoder().encode(renderComparison(result, { a: basename(pathA), b: basename(pathB) })),
      );
    process.stdout.write(
      json
        ? `${comparisonJson(result, { a: pathA, b: pathB, ...(recomputed ? { recomputed } : {}) })}\n`
        : comparisonText(result, process.stdout) + recomputedText(recomputed),
    );
    return result.firstDivergence === null ? 0 : EXIT_DIVERGED;
  } finally {
    for (const m of opened) await m.release();
  }
}
