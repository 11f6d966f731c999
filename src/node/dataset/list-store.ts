/**
 * `listStore`: what a data-set store holds and how complete it is (Node only), from its manifest
 * and one listing of its objects, without reading any chunk: per key its array, shape and dtype and
 * how many of its chunk objects are there, the chunks declared complete (those with a record),
 * and with `shards` which shards of a run have finished. Works on every `DatasetStore` back end
 * (a local directory, object storage), since it only lists and reads small JSON objects.
 *
 * ```ts
 * const listing = await listStore('acts.zarr', { shards: 8 });
 * listing.chunks.complete; // 11 of listing.chunks.count
 * listing.shards?.done;    // [0, 1, 2, 4, 5, 6, 7]: shard 3 is still running, or failed
 * ```
 */
import { NeurotapError } from '../../errors.js';
import { shardChunks } from '../../dataset/chunks.js';
import type { DatasetManifest } from '../../dataset/manifest.js';
import type { DatasetStore } from './dataset-store.js';
import { openDatasetStore, type StoreTarget } from './open-store.js';
import type { S3StoreOptions } from './s3-store.js';
import { chunkKey } from './verify-store.js';
import { MANIFEST_PATH, readStoreJson, RECORDS_DIR } from './zarr-writer.js';

export interface ListedKey {
  key: string;
  array: string;
  dtype: string;
  /** The array's shape, items first. */
  shape: number[];
  module?: string;
  /** How the tensor was recomputed beside a fused op, where it was not read from the graph. */
  recomputed?: string;
  /** Chunk objects of the array in the store, and the chunks the array has. */
  chunks: { present: number; expected: number };
}

export interface ShardProgress {
  index: number;
  /** Chunks of the shard with a completion record, and the chunks it owns. */
  complete: number;
  chunks: number;
}

export interface StoreListing {
  path: string;
  format: string;
  neurotap: string;
  model: { file: string; sha256: string };
  source: DatasetManifest['source'];
  items: number;
  /** Items per chunk, chunks of the data set, chunks with a completion record. */
  chunks: { size: number; count: number; complete: number };
  /** Chunks without a record: not written yet, being written, or interrupted (`--resume` redoes them). */
  missingChunks: number[];
  keys: ListedKey[];
  skippedKeys: { key: string; reason: string }[];
  /** With `shards`: every shard's progress, and the shards whose chunks are all complete. */
  shards?: { count: number; done: number[]; progress: ShardProgress[] };
  /** Temporary objects of interrupted writes (never read as data). */
  leftovers: number;
}

export interface ListStoreOptions {
  /** The shard count of the run, to say which shards are done (the manifest holds none: it is the same for every run). */
  shards?: number;
  /** For an s3:// store: the endpoint, concurrency and retries. */
  s3?: S3StoreOptions;
}

async function manifestOf(store: DatasetStore): Promise<DatasetManifest> {
  const manifest = await readStoreJson<DatasetManifest>(store, MANIFEST_PATH);
  if (manifest) return manifest;
  throw new NeurotapError(
    'E_BAD_FILE',
    `Expected a neurotap Zarr store at ${store.location}; it has no ${MANIFEST_PATH}.`,
    {
      hint: 'A store is listed from the manifest writeDataset writes first; a store whose creation was interrupted has none yet: run the extraction again.',
    },
  );
}

function checkShardCount(shards: number | undefined): void {
  if (shards === undefined || (Number.isSafeInteger(shards) && shards >= 1)) return;
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected shards to be an integer >= 1; got ${shards}.`, {
    hint: 'The shard count the run used (COUNT of its shard INDEX/COUNT).',
  });
}

function shardProgress(chunks: number, count: number, complete: ReadonlySet<number>): StoreListing['shards'] {
  const progress = Array.from({ length: count }, (_, index): ShardProgress => {
    const owned = shardChunks(chunks, { index, count });
    return { index, complete: owned.filter((c) => complete.has(c)).length, chunks: owned.length };
  });
  return { count, done: progress.filter((p) => p.complete === p.chunks).map((p) => p.index), progress };
}

/** Lists the store at a path or URL (or a store object). */
export async function listStore(target: StoreTarget, options: ListStoreOptions = {}): Promise<StoreListing> {
  checkShardCount(options.shards);
  const store = openDatasetStore(target, { s3: options.s3 });
  const manifest = await manifestOf(store);
  const objects = new Set(await store.list(''));
  const count = manifest.chunks.count;
  const records = new Set<number>();
  for (const key of objects) {
    const name = key.startsWith(`${RECORDS_DIR}/`) ? key.slice(RECORDS_DIR.length + 1) : '';
    if (/^\d+\.json$/.test(name) && Number(name.slice(0, -5)) < count) records.add(Number(name.slice(0, -5)));
  }
  const keys = manifest.keys.map((k): ListedKey => {
    let present = 0;
    for (let c = 0; c < count; c++) if (objects.has(chunkKey(k.array, c, k.shape.length))) present++;
    return {
      key: k.key,
      array: k.array,
      dtype: k.dtype,
      shape: k.shape,
      ...(k.module ? { module: k.module } : {}),
      ...(k.recomputed ? { recomputed: k.recomputed } : {}),
      chunks: { present, expected: count },
    };
  });
  return {
    path: store.location,
    format: manifest.format,
    neurotap: manifest.neurotap,
    model: { file: manifest.model.file, sha256: manifest.model.sha256 },
    source: manifest.source,
    items: manifest.items.count,
    chunks: { size: manifest.chunks.size, count, complete: records.size },
    missingChunks: Array.from({ length: count }, (_, c) => c).filter((c) => !records.has(c)),
    keys,
    skippedKeys: manifest.skipped,
    ...(options.shards !== undefined ? { shards: shardProgress(count, options.shards, records) } : {}),
    leftovers: (await store.leftovers()).length,
  };
}
