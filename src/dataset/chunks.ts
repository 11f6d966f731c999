/**
 * Chunk planning (isomorphic). A chunk is `batchSize` consecutive items: the unit of a model run,
 * of a stored chunk file, of a completion record and of sharding. Fixing chunks by item position
 * (not by which process runs them) is what makes a sharded or resumed store byte-identical to a
 * single uninterrupted run.
 */
import { NeurotapError } from '../errors.js';
import type { Shard } from './types.js';

export function checkBatchSize(batchSize: number): number {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected batchSize to be a positive integer; got ${batchSize}.`, { hint: 'E.g. batchSize: 32.' });
  }
  return batchSize;
}

export function chunkCount(items: number, batchSize: number): number {
  return Math.ceil(items / batchSize);
}

/** Items [start, end) of a chunk. */
export function chunkRange(chunk: number, items: number, batchSize: number): [number, number] {
  const start = chunk * batchSize;
  return [start, Math.min(items, start + batchSize)];
}

/**
 * `INDEX/COUNT` as given to `--shard` (INDEX from 0). Checked here so the library and the CLI
 * reject the same mistakes.
 */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected --shard INDEX/COUNT (e.g. 0/4); got '${text}'.`, {
      hint: 'INDEX counts from 0, as Kubernetes JOB_COMPLETION_INDEX and Slurm SLURM_ARRAY_TASK_ID (with --array=0-N) do.',
    });
  }
  return checkShard({ index: Number(match[1]), count: Number(match[2]) });
}

export function checkShard(shard: Shard): Shard {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected a shard index from 0 to COUNT - 1 and COUNT >= 1; got ${index}/${count}.`, {
      hint: `With ${count} shards, run indices 0 to ${Math.max(0, count - 1)}.`,
    });
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
