/**
 * Batches gathered into whole chunks (isomorphic), for stores whose chunks hold several batches.
 * Nothing is copied: a chunk is the list of its batches' arrays per key, in item order, which a
 * store writes one after the other as the chunk's bytes (a file written from several buffers).
 * Memory holds the batches of one open chunk.
 *
 * ```ts
 * const gatherer = new ChunkGatherer(512, source.count);
 * for await (const batch of extractDataset(model, source, { batchSize: 64, chunkSize: 512 })) {
 *   const chunk = gatherer.add(batch); // undefined until the chunk's 8th batch
 *   if (chunk) await writer.writeChunk(chunk);
 * }
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { TypedArray } from '../tensor.js';
import { chunkRange } from './chunks.js';
import type { DatasetBatch, DatasetLayout } from './types.js';

/** One whole chunk: items [start, start + itemIds.length), every key's rows as its batches' arrays. */
export interface GatheredChunk {
  readonly chunk: number;
  readonly start: number;
  readonly itemIds: readonly string[];
  /** Per stored key, the arrays of the chunk's batches in item order (sample axis first). */
  readonly parts: ReadonlyMap<string, readonly TypedArray[]>;
  readonly layout: DatasetLayout;
}

interface OpenChunk {
  chunk: number;
  start: number;
  end: number;
  /** Items in so far. */
  filled: number;
  itemIds: string[];
  parts: Map<string, TypedArray[]>;
  layout: DatasetLayout;
}

export class ChunkGatherer {
  #open: OpenChunk | undefined;

  constructor(
    readonly chunkSize: number,
    readonly count: number,
  ) {}

  /** Takes the next batch (in item order); returns its chunk when this batch completes it. */
  add(batch: DatasetBatch): GatheredChunk | undefined {
    const [start, end] = chunkRange(batch.chunk, this.count, this.chunkSize);
    const open = (this.#open ??= {
      chunk: batch.chunk,
      start,
      end,
      filled: 0,
      itemIds: [],
      parts: new Map(batch.layout.keys.map((k) => [k.key, []])),
      layout: batch.layout,
    });
    if (open.start !== start || batch.start !== start + open.filled) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected the batch at item ${open.start + open.filled} of chunk ${open.chunk}; got the one at item ${batch.start} of chunk ${batch.chunk}.`,
        {
          hint: "Batches of a chunk must arrive in order, each chunk complete before the next: pass extractDataset's batches as they come.",
        },
      );
    }
    for (const [key, list] of open.parts) {
      const t = batch.activations.get(key);
      if (t) list.push(t.data as TypedArray);
    }
    open.itemIds.push(...batch.itemIds);
    open.filled += batch.itemIds.length;
    if (open.filled < end - start) return undefined;
    this.#open = undefined;
    return { chunk: open.chunk, start, itemIds: open.itemIds, parts: open.parts, layout: open.layout };
  }
}
