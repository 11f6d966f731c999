/**
 * Flags shared by the data-set commands (`extract --inputs`, `stats`): the data source, batch
 * and chunk sizes, reductions, threads; parsed into library options so that the CLI flags stay
 * one-to-one with option names.
 */
import { NeurotapError } from '../errors.js';
import type { NeurotapModel } from '../model.js';
import { MAX_BATCH_SIZE } from '../dataset/chunks.js';
import type { DataSource } from '../dataset/types.js';
import { isSet, lastValue, parseInteger, type ScannedFlags } from './argv.js';
import { executionProvidersOf, layerSpecsOf, reductionOf, threadsOf } from './flags.js';
import { imageOptions, type ImageFlags } from './inputs.js';
import { openModel } from './model-info.js';

export const DEFAULT_BATCH_SIZE = 32;

export function batchSizeOf(flags: ScannedFlags): number {
  const text = lastValue(flags, 'batch-size');
  return text === undefined ? DEFAULT_BATCH_SIZE : parseInteger(text, 'batch-size', 1, MAX_BATCH_SIZE);
}

/** `--chunk-size N` (the library checks that it is a multiple of the batch size); undefined: the default. */
export function chunkSizeOf(flags: ScannedFlags): number | undefined {
  const text = lastValue(flags, 'chunk-size');
  return text === undefined ? undefined : parseInteger(text, 'chunk-size', 1, MAX_BATCH_SIZE * 64);
}

export async function openModelFromFlags(path: string, flags: ScannedFlags): Promise<NeurotapModel> {
  return openModel(path, threadsOf(flags), executionProvidersOf(flags));
}

/** The selection flags as library options. */
export function selectionOf(flags: ScannedFlags) {
  const reduce = reductionOf(flags);
  return {
    layers: layerSpecsOf(flags, 'leaves'),
    inputs: isSet(flags, 'inputs-of-modules'),
    dequantize: isSet(flags, 'dequantize'),
    // --stop skips the model outputs, so the graph ends at the last selected layer.
    outputs: !isSet(flags, 'stop'),
    ...(reduce !== undefined ? { reduce } : {}),
  };
}

/** Opens `--inputs`; images are preprocessed as `extract --input` does (declared shape, --image-size...). */
export async function openSourceFromFlags(
  model: NeurotapModel,
  flags: ScannedFlags,
  image: ImageFlags,
): Promise<DataSource> {
  const path = lastValue(flags, 'inputs');
  if (path === undefined) {
    const expected = model.inputs.map((v) => `${v.name}: ${v.dtype} [${v.shape?.join(', ') ?? '?'}]`).join('; ');
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `This command needs a data set: --inputs <dir | glob | list.txt | .npy | .npz | .jsonl> (the model takes ${expected}).`,
      {
        hint: 'E.g. --inputs images/ or --inputs x.npy (items on the first axis).',
      },
    );
  }
  const { openDataSource } = await import('../node/dataset/open-data-source.js');
  return openDataSource(model, path, { image: (input) => imageOptions(model, input, image) });
}
