/**
 * A data source of one file per item (Node only): `.npy`, `.npz` or an image. Only the files of
 * the batch being read are in memory, and they are read concurrently (image decoding runs on
 * sharp's thread pool, so this overlaps with the model run of the previous batch).
 */
import { extname } from 'node:path';
import { NeurotapError, isNeurotapError } from '../../errors.js';
import { readFileBytes } from '../files.js';
import { loadImageTensor, type ImageTensorOptions } from '../image.js';
import { parseNpy } from '../../formats/npy.js';
import { parseNpz } from '../../formats/npz.js';
import type { NeurotapModel } from '../../model.js';
import type { HostTensor } from '../../tensor.js';
import { asOneItem, castToInput, nameArrays, stackItems } from '../../dataset/fit.js';
import type { ItemFile } from './file-list.js';
import type { DataSource, SourceDescription } from '../../dataset/types.js';

/** How image items become tensors, per input (the CLI derives it from the declared shape). */
export type ImageOptionsFor = (input: string) => ImageTensorOptions;

const CONCURRENT_READS = 16;

/** Parse errors name the file: the codecs only know bytes. */
function withPath(path: string, cause: unknown): unknown {
  if (!isNeurotapError(cause)) return cause;
  return new NeurotapError(cause.code, `${path}: ${cause.message}`, { hint: cause.hint, cause });
}

async function readItem(
  model: NeurotapModel,
  file: ItemFile,
  image: ImageOptionsFor,
): Promise<Record<string, HostTensor>> {
  const ext = extname(file.path).toLowerCase();
  let arrays: Map<string, HostTensor>;
  try {
    if (ext === '.npy' || ext === '.npz') {
      const bytes = await readFileBytes(file.path, 'an item file');
      arrays = ext === '.npz' ? parseNpz(bytes) : new Map([['', parseNpy(bytes)]]);
    } else {
      const input = model.inputNames.length === 1 ? model.inputNames[0] : '';
      if (!input)
        throw new NeurotapError(
          'E_BAD_ARGUMENT',
          `An image feeds one input; the model has ${model.inputNames.length}.`,
          { hint: 'Use one .npz per item with arrays named after the inputs.' },
        );
      arrays = new Map([[input, await loadImageTensor(file.path, image(input))]]);
    }
  } catch (cause) {
    throw withPath(file.path, cause);
  }
  const named = nameArrays(model, arrays, file.path);
  return Object.fromEntries(
    Object.entries(named).map(([input, t]) => [
      input,
      asOneItem(model, input, castToInput(model, input, t), file.path),
    ]),
  );
}

/** Maps with at most `limit` calls in flight, results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function fileSource(
  model: NeurotapModel,
  files: readonly ItemFile[],
  description: SourceDescription,
  image: ImageOptionsFor = () => ({}),
): DataSource {
  return {
    count: files.length,
    id: (i) => files[i].id,
    async read(start, end) {
      const batch = files.slice(start, end);
      const items = await mapLimited(batch, CONCURRENT_READS, (f) => readItem(model, f, image));
      const ids = batch.map((f) => f.id);
      return Object.fromEntries(
        model.inputNames.map((input) => [
          input,
          stackItems(
            input,
            items.map((it) => it[input]),
            ids,
          ),
        ]),
      );
    },
    describe: () => ({ ...description, count: files.length }),
    files: () => files.map((f) => f.path),
  };
}
