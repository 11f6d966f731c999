/**
 * `neurotap extract MODEL --input FILE`: runs the model once and reports (and optionally saves)
 * the activation of every selected module, keyed by its PyTorch name.
 */
import { requireObservable } from '../not-observable.js';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import type { NeurotapModel } from '../../model.js';
import type { HostTensor, PlainTensor } from '../../tensor.js';
import { flagCommand, isSet, lastValue, parseNumberList, type ScannedFlags } from '../argv.js';
import { dimSizesOf, executionProvidersOf, FLAGS, layerSpecsOf, reductionOf, seedOf, threadsOf } from '../flags.js';
import { extractJson, extractText } from '../extract-view.js';
import { IMAGE_ARGS, loadInputFiles, parseInputFlag, type ImageFlags } from '../inputs.js';
import { openModel } from '../model-info.js';
import { checkParentDirectory } from '../output-path.js';
import { randomFeeds } from '../random.js';
import { EDIT_FLAG, editsOf } from '../edit-flags.js';
import { note } from '../print-error.js';
import { S3_ARGS } from '../s3-flags.js';

const args = {
  model: FLAGS.model,
  input: FLAGS.input,
  inputs: {
    ...FLAGS.inputs,
    description: `${FLAGS.inputs.description}; each layer streams to --out (store.zarr or s3://BUCKET/PATH.zarr, .safetensors or dir/)`,
  },
  'batch-size': FLAGS['batch-size'],
  'chunk-size': {
    type: 'string',
    valueHint: 'N',
    description:
      'With --inputs and a .zarr store: items per stored chunk, a multiple of --batch-size (default: about 8 MiB of the largest layer, at most 4096 items)',
  },
  resume: { type: 'boolean', description: 'With --inputs and a .zarr store: skip the chunks a previous run completed' },
  overwrite: {
    type: 'boolean',
    description: 'With --inputs: replace an earlier data set of another job at --out (refused otherwise: never mixed)',
  },
  shard: FLAGS.shard,
  workers: {
    type: 'string',
    valueHint: 'N',
    description:
      'With --inputs: N worker threads, each a one-thread session, on different batches; stored in order (default: one per core, 1 with --threads or --ep)',
  },
  random: FLAGS.random,
  seed: FLAGS.seed,
  dim: FLAGS.dim,
  layers: FLAGS.layers,
  'inputs-of-modules': { type: 'boolean', description: 'Also capture what each module receives (keys in:NAME#i)' },
  out: {
    type: 'string',
    alias: 'o',
    valueHint: 'PATH',
    description: 'Save tensors (and outputs as output:NAME) to .npz, .safetensors, or a directory of .npy files',
  },
  json: { type: 'boolean', description: 'Print one JSON object instead of the table' },
  threads: FLAGS.threads,
  ep: FLAGS.ep,
  reduce: FLAGS.reduce,
  stop: {
    type: 'boolean',
    description: 'Early stop: run only what the selected layers need (model outputs are not computed)',
  },
  'stack-calls': {
    type: 'boolean',
    description: 'Keep the calls of a module inside a loop as one array, calls along a new leading axis',
  },
  dequantize: {
    type: 'boolean',
    description: 'Return quantized values (QuantizeLinear, DynamicQuantizeLinear, QLinear* outputs) as floats',
  },
  float32: {
    type: 'boolean',
    description:
      'Return float16/bfloat16 values (an fp16 model) as float32; by default they keep the dtype the graph computes',
  },
  dtype: {
    type: 'string',
    valueHint: 'float16',
    description: 'float16: return float32 activations as float16 (half the bytes, lossy; keys unchanged)',
  },
  edit: EDIT_FLAG,
  ...IMAGE_ARGS,
  ...S3_ARGS,
} satisfies ArgsDef;

export default flagCommand(
  { name: 'extract', description: 'Run the model once and print (or save) the activation of every selected module' },
  args,
  'Inputs go after --input: neurotap extract MODEL --input FILE.',
  async (model, flags) => {
    if (['inputs', 'batch-size', 'chunk-size', 'resume', 'shard', 'workers'].some((f) => flags.values.has(f))) {
      const { extractDatasetCommand } = await import('../extract-dataset.js');
      return extractDatasetCommand(model!, flags, imageFlags(flags));
    }
    await extract(model!, flags);
  },
);

/** `--FLAG N` or `--FLAG H,W`, positive integers. */
function sizeFlag(flags: ScannedFlags, flag: string): [number, number] | number | undefined {
  const text = lastValue(flags, flag);
  if (text === undefined) return undefined;
  const sizes = parseNumberList(text, flag);
  if (sizes.length > 2 || !sizes.every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --${flag} H,W or N (positive integers); got '${text}'.`, {
      hint: "E.g. --resize 256 --center-crop 224 (torchvision's Resize(256), CenterCrop(224)), or --image-size 224,224.",
    });
  }
  return sizes.length === 2 ? [sizes[0], sizes[1]] : sizes[0];
}

/** Image preprocessing flags (--resize, --center-crop, --image-size, --mean, --std, --imagenet, --grayscale), checked; shared with the data-set commands. */
export function imageFlags(flags: ScannedFlags): ImageFlags {
  const size = sizeFlag(flags, 'image-size');
  const resize = sizeFlag(flags, 'resize');
  const centerCrop = sizeFlag(flags, 'center-crop');
  const list = (name: string) =>
    lastValue(flags, name) === undefined ? undefined : parseNumberList(lastValue(flags, name)!, name);
  return {
    ...(size !== undefined ? { size } : {}),
    ...(resize !== undefined ? { resize } : {}),
    ...(centerCrop !== undefined ? { centerCrop } : {}),
    ...(list('mean') ? { mean: list('mean') } : {}),
    ...(list('std') ? { std: list('std') } : {}),
    imagenet: isSet(flags, 'imagenet'),
    grayscale: isSet(flags, 'grayscale'),
  };
}

/** Fails before the model runs on an output path that writeTensors would refuse after it (it creates directories itself). */
async function checkOutputPath(path: string): Promise<void> {
  const directory =
    /[\\/]$/.test(path) ||
    extname(path) === '' ||
    (await stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  if (directory) return;
  if (!['.npz', '.safetensors'].includes(extname(path).toLowerCase())) {
    throw new NeurotapError(
      'E_OUTPUT_PATH',
      `Expected an output path ending in .npz, .safetensors or / (a directory); got ${path}.`,
      {
        hint: 'Use out.npz (numpy), out.safetensors, or out/ for one .npy file per tensor plus index.json.',
      },
    );
  }
  await checkParentDirectory(path);
}

/** The feeds of --input and --random (shared with `lens`, named in its errors by `command`). */
export async function buildFeeds(
  model: NeurotapModel,
  flags: ScannedFlags,
  json: boolean,
  command = 'extract',
): Promise<Record<string, HostTensor>> {
  const inputFlags = (flags.values.get('input') ?? []).map((text) => parseInputFlag(text, model.inputNames));
  const random = isSet(flags, 'random');
  if (inputFlags.length === 0 && !random) {
    const expected = model.inputs.map((v) => `${v.name}: ${v.dtype} [${v.shape?.join(', ') ?? '?'}]`).join('; ');
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `${command} needs input data: --input FILE, --input NAME=FILE, or --random (the model takes ${expected}).`,
      {
        hint: `E.g. neurotap ${command} MODEL --input x.npy, or --random to probe the model with random data.`,
      },
    );
  }
  const dims = flags.values.get('dim') ?? [];
  if (dims.length && !random)
    throw new NeurotapError('E_BAD_ARGUMENT', '--dim sizes the inputs that --random makes; there is no --random.', {
      hint: 'Add --random, or drop --dim.',
    });
  const feeds = await loadInputFiles(model, inputFlags, imageFlags(flags), (text) => note(text, json));
  const rest = model.inputNames.filter((n) => !(n in feeds));
  if (!random || rest.length === 0) return feeds;
  const seed = seedOf(flags);
  const made = randomFeeds(model, rest, dimSizesOf(flags), seed);
  note(
    `random inputs (seed ${seed}): ${Object.entries(made)
      .map(([n, t]) => `${n} ${t.type} [${t.dims.join(', ')}]`)
      .join(', ')}`,
    json,
  );
  return { ...feeds, ...made };
}

async function extract(modelPath: string, flags: ScannedFlags): Promise<void> {
  const json = isSet(flags, 'json');
  imageFlags(flags); // bad image flags fail before anything is loaded
  const out = lastValue(flags, 'out');
  if (out !== undefined) await checkOutputPath(out);
  const model = await openModel(modelPath, threadsOf(flags), executionProvidersOf(flags));
  try {
    const options = {
      layers: layerSpecsOf(flags, 'leaves'),
      inputs: isSet(flags, 'inputs-of-modules'),
      reduce: reductionOf(flags),
      stop: isSet(flags, 'stop'),
      stackCalls: isSet(flags, 'stack-calls'),
      dequantize: isSet(flags, 'dequantize'),
      float32: isSet(flags, 'float32'),
      // The library checks the name.
      dtype: lastValue(flags, 'dtype') as 'float16' | undefined,
      edit: await editsOf(flags.values.get('edit') ?? []),
    };
    const plan = model.plan(options); // an unknown layer fails before any input file is read
    requireObservable(plan.targets.length, plan.notObservable);
    const feeds = await buildFeeds(model, flags, json);
    // File readers and --random only make numeric tensors, which is what PlainTensor requires.
    const acts = await model.capture(feeds as Record<string, PlainTensor>, options);
    requireObservable(acts.size, acts.notObservable); // e.g. only If branches that did not run
    const { writeTensors } = await import('../../node/files.js');
    const written = out === undefined ? null : await writeTensors(out, acts.tensors(), acts.fileMetadata());
    const { summary, warning } = model.moduleEvidence;
    const modules = { summary, ...(warning ? { warning } : {}) };
    const result = { model: modelPath, feeds, acts, written, modules };
    process.stdout.write(`${json ? extractJson(result) : extractText(result).join('\n')}\n`);
  } finally {
    await model.release();
  }
}
