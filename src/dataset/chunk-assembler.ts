/**
 * Batches gathered into whole chunks (isomorphic), for stores whose chunks hold several batches.
 * Memory holds one chunk: the batches of the open chunk are copied into it as they arrive, and the
 * chunk is handed over once its last batch is in. A chunk that one batch fills is that batch, not
 * a copy.
 *
 * ```ts
 * const assembler = new ChunkAssembler(512, source.count);
 * for await (const batch of extractDataset(model, source, { batchSize: 64, chunkSize: 512 })) {
 *   const chunk = assembler.add(batch); // undefined until the chunk's 8th batch
 *   if (chunk) await writer.writeChunk(chunk);
 * }
 * ```
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type HostTensor, type TypedArray } from '../tensor.js';
import { chunkRange } from './chunks.js';
import type { DatasetBatch } from './types.js';

interface OpenChunk {
  first: DatasetBatch;
  start: number;
  end: number;
  /** Items copied in so far. */
  filled: number;
  itemIds: string[];
  activations: Map<string, HostTensor>;
}

function allocate(first: DatasetBatch, start: number, end: number): OpenChunk {
  const activations = new Map<string, HostTensor>();
  for (const key of first.layout.keys) {
    const t = first.activations.get(key.key);
    if (!t) continue;
    const Typed = (t.data as TypedArray).constructor as new (length: number) => TypedArray;
    activations.set(key.key, {
      type: t.type,
      dims: [end - start, ...key.shape],
      data: new Typed((end - start) * sizeOf(key.shape)),
    });
  }
  return { first, start, end, filled: 0, itemIds: [], activations };
}

export class ChunkAssembler {
  #open: OpenChunk | undefined;

  constructor(
    readonly chunkSize: number,
    readonly count: number,
  ) {}

  /** Takes the next batch (in item order); returns its chunk when this batch completes it. */
  add(batch: DatasetBatch): DatasetBatch | undefined {
    const [start, end] = chunkRange(batch.chunk, this.count, this.chunkSize);
    const n = batch.itemIds.length;
    if (!this.#open && batch.start === start && batch.start + n === end) return batch;
    const open = (this.#open ??= allocate(batch, start, end));
    if (open.start !== start || batch.start !== start + open.filled) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected the batch at item ${open.start + open.filled} of chunk ${open.first.chunk}; got the one at item ${batch.start} of chunk ${batch.chunk}.`,
        {
          hint: "Batches of a chunk must arrive in order, each chunk complete before the next: pass extractDataset's batches as they come.",
        },
      );
    }
    for (const [key, target] of open.activations) {
      const row = sizeOf(target.dims.slice(1));
      (target.data as Float32Array).set(batch.activations.get(key)!.data as Float32Array, (batch.start - start) * row);
    }
    open.itemIds.push(...batch.itemIds);
    open.filled += n;
    if (open.filled < end - start) return undefined;
    this.#open = undefined;
    return { ...open.first, start, itemIds: open.itemIds, activations: open.activations };
  }
}
