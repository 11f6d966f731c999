/**
 * Chunk planning (isomorphic). A chunk is `chunkSize` consecutive items, a whole number of
 * batches: the unit of a stored chunk file, of a completion record, of `skip` and of sharding,
 * while a batch (`batchSize` items) is the unit of a model run. Fixing chunks by item position
 * (not by which process runs them) is what makes a sharded or resumed store byte-identical to a
 * single uninterrupted run.
 */
import { NeurotapError } from '../errors.js';
import { sizeOf } from '../tensor.js';
import { elementBytes } from '../formats/elements.js';
import type { DatasetLayout, Shard } from './types.js';

/** What `defaultChunkSize` aims for: the largest key's chunk file holds at least this many bytes... */
export const TARGET_CHUNK_BYTES = 8 << 20;
/** ...in chunks of at most this many items (unless one batch is larger). */
export const MAX_DEFAULT_CHUNK_ITEMS = 4096;

/** More items per run than this is a typo: no model run needs a million items at once. */
export const MAX_BATCH_SIZE = 1 << 20;
/** A stored chunk (of the largest key) is held in memory whole: at most this many bytes. */
export const MAX_CHUNK_BYTES = 2 ** 30;

export function checkBatchSize(batchSize: number): number {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected batchSize to be an integer from 1 to ${MAX_BATCH_SIZE}; got ${batchSize}.`,
      { hint: 'E.g. batchSize: 32.', details: { batchSize, max: MAX_BATCH_SIZE } },
    );
  }
  return batchSize;
}

/**
 * A chunk is assembled in memory and stored whole (zarr pads the last one to full size): its
 * bytes for the largest key must stay within MAX_CHUNK_BYTES, whatever chunkSize was asked for.
 */
export function checkChunkBytes(chunkSize: number, layout: DatasetLayout): void {
  const largest = layout.keys.reduce(
    (best, k) => {
      const bytes = sizeOf(k.shape) * elementBytes(k.dtype);
      return bytes > best.bytes ? { key: k.key, bytes } : best;
    },
    { key: '', bytes: 0 },
  );
  const total = chunkSize * largest.bytes;
  if (total <= MAX_CHUNK_BYTES) return;
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `A chunk of ${chunkSize} items would hold ${total} bytes of '${largest.key}' (${largest.bytes} per item); at most ${MAX_CHUNK_BYTES} fit.`,
    {
      hint: `Use a chunk size (and batch size) of at most ${Math.max(1, Math.floor(MAX_CHUNK_BYTES / largest.bytes))} items, or leave chunkSize out for the default (about 8 MiB).`,
      details: { chunkSize, key: largest.key, itemBytes: largest.bytes, maxBytes: MAX_CHUNK_BYTES },
    },
  );
}

/** Checks that a chunk is a whole number of batches, so batches never straddle chunks. */
export function checkChunkSize(chunkSize: number, batchSize: number): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < batchSize || chunkSize % batchSize !== 0) {
    const below = Math.max(1, Math.floor(chunkSize / batchSize)) * batchSize;
    const above = (Math.floor(chunkSize / batchSize) + 1) * batchSize;
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected chunkSize to be a multiple of batchSize (${batchSize}); got ${chunkSize}.`,
      {
        hint: `A chunk is a whole number of batches: e.g. ${below === above ? below : `${below} or ${above}`}; or leave it out for the default (a chunk of about 8 MiB).`,
        details: { chunkSize, batchSize },
      },
    );
  }
  return chunkSize;
}

/** Bytes of one item of the layout's largest key. */
export function largestItemBytes(layout: DatasetLayout): number {
  return Math.max(0, ...layout.keys.map((k) => sizeOf(k.shape) * elementBytes(k.dtype)));
}

/**
 * The default chunk size: the fewest whole batches that make the largest key's chunk at least
 * 8 MiB, but at most 4096 items (never less than one batch) and no more batches than the data
 * set has. Large chunks keep the files per item few: creating, renaming and flushing a file
 * costs far more than writing a few KiB to it, and Zarr readers read whole chunks anyway.
 *
 * ```ts
 * defaultChunkSize(2048, 5000, 64); // 4096: conv1 of the digits CNN (2 KiB per item), batches of 64
 * ```
 */
export function defaultChunkSize(itemBytes: number, items: number, batchSize: number): number {
  let batches = Math.ceil(Math.ceil(TARGET_CHUNK_BYTES / Math.max(1, itemBytes)) / batchSize);
  batches = Math.min(batches, Math.max(1, Math.floor(MAX_DEFAULT_CHUNK_ITEMS / batchSize)));
  batches = Math.max(1, Math.min(batches, Math.ceil(items / batchSize)));
  return batches * batchSize;
}

export function chunkCount(items: number, chunkSize: number): number {
  return Math.ceil(items / chunkSize);
}

/** Items [start, end) of a chunk. */
export function chunkRange(chunk: number, items: number, chunkSize: number): [number, number] {
  const start = chunk * chunkSize;
  return [start, Math.min(items, start + chunkSize)];
}

/** A shard `index` of `count` (from 0), checked. */
export function checkShard(shard: Shard): Shard {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected a shard index from 0 to COUNT - 1 and COUNT >= 1; got ${index}/${count}.`,
      {
        hint: `With ${count} shards, run indices 0 to ${Math.max(0, count - 1)}.`,
      },
    );
  }
  return shard;
}

/**
 * The chunks shard `index` of `count` owns: a contiguous slice, so each process reads its inputs
 * sequentially. Slices differ in length by at most one chunk.
 */
export function shardChunks(chunks: number, shard: Shard = { index: 0, count: 1 }): number[] {
  const begin = Math.floor((shard.index * chunks) / shard.count);
  const end = Math.floor(((shard.index + 1) * chunks) / shard.count);
  return Array.from({ length: end - begin }, (_, i) => begin + i);
}
