/**
 * `writeDataset`: extraction into a store, with resume and shards (Node only).
 *
 * ```ts
 * const source = await openDataSource(model, 'digits/');
 * await writeDataset(model, source, 'acts.zarr', { batchSize: 64, layers: ['fc1'], resume: true });
 * ```
 *
 * The output path picks the format: `*.zarr` (or an existing Zarr store) gives Zarr v3, the only
 * format with chunks, resume, shards and `verify`; `*.safetensors` one file; a path ending in `/`
 * (or an existing directory, or no extension) one `.npy` per key. A Zarr chunk holds `chunkSize`
 * items (default `defaultChunkSize`: about 8 MiB of the largest key); batches are gathered in
 * memory until their chunk is complete, then the chunk is written.
 */
import { packageVersion } from '../package-version.js';
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { NeurotapError } from '../../errors.js';
import type { NeurotapModel } from '../../model.js';
import { ChunkGatherer } from '../../dataset/chunk-gatherer.js';
import { checkChunkBytes, chunkRange, defaultChunkSize, largestItemBytes } from '../../dataset/chunks.js';
import { extractDataset, plannedChunks, probeLayout, sizesOf } from '../../dataset/extract.js';
import {
  buildManifest,
  checkSameJob,
  layoutOf,
  manifestIdentity,
  type DatasetManifest,
  type ManifestContext,
} from '../../dataset/manifest.js';
import { FlatDatasetWriter, type FlatFormat } from './flat-writer.js';
import { fingerprintFiles } from './fingerprint.js';
import { type DatasetStore, isStoreUrl } from './dataset-store.js';
import { openDatasetStore } from './open-store.js';
import type { S3StoreOptions } from './s3-store.js';
import { verifiedChunks } from './verify-store.js';
import { checkWorkers, WorkerPool } from './worker-pool.js';
import { sha256 } from './checksums.js';
import { MANIFEST_PATH, META_DIR, readJson, readStoreJson, ZarrDatasetWriter } from './zarr-writer.js';
import type { DataSource, DatasetBatch, DatasetLayout, ExtractDatasetOptions } from '../../dataset/types.js';

export type DatasetFormat = 'zarr' | FlatFormat;

export interface DatasetProgress {
  /** Items this run has computed so far (stored once their chunk is complete), and the items it will write in all. */
  items: number;
  totalItems: number;
  /** Chunks written so far, and the chunks this run will write. */
  chunks: number;
  totalChunks: number;
}

export interface WriteDatasetOptions extends ExtractDatasetOptions {
  /** Skip chunks that a previous run of the same job completed (Zarr only). */
  resume?: boolean;
  /**
   * Replace an earlier data set of another job at the path (its store, or its arrays, index and
   * manifest in a directory) instead of refusing: never are old and new files mixed.
   */
  overwrite?: boolean;
  /** The model's file name for the manifest (default model.onnx). */
  modelFile?: string;
  /** For an s3:// path: the endpoint (else AWS_ENDPOINT_URL, else AWS), requests in flight (8), retries. */
  s3?: S3StoreOptions;
  /**
   * Worker threads that run the batches, each with its own one-thread CPU session of the model
   * (default 1: the model given, in this thread, with its own options). Batches are spread over
   * the workers and stored in order, so the store holds the same bytes whatever the count.
   */
  workers?: number;
  /** The model file the workers load (needed when its weights are external data); default: the model's bytes. */
  modelPath?: string;
  onProgress?: (progress: DatasetProgress) => void;
}

/** Options inside a run: the workers, once started. */
type RunOptions = WriteDatasetOptions & { runner?: WorkerPool };

export interface WriteDatasetResult {
  path: string;
  format: DatasetFormat;
  items: number;
  /** Items this run computed and wrote (fewer than `items` with a shard or a resume). */
  itemsWritten: number;
  /** Items per chunk, chunks of the whole data set, written by this run, and skipped as complete. */
  chunks: { size: number; total: number; written: number; skipped: number };
  keys: { key: string; array: string; dtype: string; shape: number[] }[];
  skippedKeys: { key: string; reason: string }[];
  files?: string[];
}

export async function datasetFormat(path: string): Promise<DatasetFormat> {
  if (isStoreUrl(path)) return 'zarr'; // only Zarr stores live behind URLs
  const ext = extname(path.replace(/[\\/]+$/, '')).toLowerCase();
  if (
    ext === '.zarr' ||
    (await stat(join(path, 'zarr.json')).then(
      () => true,
      () => false,
    ))
  )
    return 'zarr';
  if (ext === '.safetensors') return 'safetensors';
  if (
    /[\\/]$/.test(path) ||
    ext === '' ||
    (await stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    return 'npy-directory';
  throw new NeurotapError(
    'E_OUTPUT_PATH',
    `Expected a data-set output ending in .zarr, .safetensors or / (a directory of .npy files); got ${path}.`,
    {
      hint: 'Use acts.zarr (resumable, shardable, verifiable), acts.safetensors, or acts/ for one .npy per layer. .npz cannot be streamed.',
    },
  );
}

/** Refuses to write a store where something else lies (only this job's own objects may be there). */
async function checkStoreDirectory(store: DatasetStore, layout: DatasetLayout): Promise<void> {
  const own = new Set(['zarr.json', META_DIR, ...layout.keys.map((k) => k.array)]);
  // Another shard may be creating the same store right now: its objects are expected.
  const names = new Set((await store.list('')).map((key) => key.split('/')[0]));
  const foreign = [...names].filter((name) => !own.has(name));
  if (foreign.length) {
    throw new NeurotapError(
      'E_OUTPUT_PATH',
      `Expected ${store.location} to be absent or a store of this job; it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? '...' : ''}.`,
      {
        hint: 'Choose a new path for the store, or remove the directory.',
      },
    );
  }
}

/** Whether a store's manifest is this run's job (the chunk size as the store has it, when not given). */
function sameJob(existing: DatasetManifest, context: ManifestContext, given: WriteDatasetOptions): boolean {
  const options = { ...given, chunkSize: given.chunkSize ?? existing.chunks.size };
  try {
    checkSameJob(existing, manifestIdentity({ ...context, options }), '');
    return true;
  } catch {
    return false;
  }
}

/**
 * A directory of .npy files is written only where no other data set lies: empty, the same job
 * again, or (with overwrite) an earlier data set whose files are removed first. Files that are
 * not a data set's are never touched: the directory is refused.
 */
async function clearFlatDirectory(path: string, manifest: DatasetManifest, overwrite: boolean): Promise<void> {
  const names = await readdir(path).catch(() => [] as string[]);
  if (names.length === 0) return;
  const earlier = await readJson<DatasetManifest>(join(path, 'manifest.json')).catch(() => undefined);
  const earlierFiles = new Set(['manifest.json', 'index.json', ...(earlier?.keys ?? []).map((k) => `${k.array}.npy`)]);
  const foreign = names.filter((n) => !earlierFiles.has(n) && !n.endsWith('.partial'));
  const same = earlier !== undefined && JSON.stringify(earlier) === JSON.stringify(manifest);
  const leftovers = names.every((n) => n.endsWith('.partial')); // of an interrupted run: rewritten
  if (leftovers) return;
  if (foreign.length === 0 && (same || overwrite)) {
    if (!same) await Promise.all(names.map((n) => rm(join(path, n), { force: true })));
    return;
  }
  const what = foreign.length
    ? `files that are not a data set's (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? '...' : ''})`
    : 'an earlier data set of another job';
  throw new NeurotapError('E_OUTPUT_PATH', `Expected ${path} to be empty or this job's data set; it holds ${what}.`, {
    hint: foreign.length
      ? 'Write to a new or empty directory: old and new files would mix.'
      : 'Set overwrite: true to replace the earlier data set, or write to a new directory.',
    details: { path, foreign: foreign.slice(0, 20) },
  });
}

interface Pumped {
  chunks: number;
  items: number;
}

function result(
  path: string,
  format: DatasetFormat,
  manifest: DatasetManifest,
  pumped: Pumped,
  skipped: number,
): WriteDatasetResult {
  return {
    path,
    format,
    items: manifest.items.count,
    itemsWritten: pumped.items,
    chunks: { size: manifest.chunks.size, total: manifest.chunks.count, written: pumped.chunks, skipped },
    keys: manifest.keys.map((k) => ({ key: k.key, array: k.array, dtype: k.dtype, shape: k.shape })),
    skippedKeys: manifest.skipped,
  };
}

/** Chunk writes that may run at once: one being written while the next is computed and gathered. */
const WRITES_IN_FLIGHT = 2;

/**
 * Runs the planned chunks, batch by batch, and hands each complete chunk to `write`, which runs
 * while the next batches compute (up to WRITES_IN_FLIGHT chunks at once); reports progress after
 * each batch. Every write has ended (or the first failure is thrown) when it returns.
 */
async function pump<Chunk>(
  model: NeurotapModel,
  source: DataSource,
  options: RunOptions,
  layout: DatasetLayout,
  skip: Set<number>,
  gather: (batch: DatasetBatch) => Chunk | undefined,
  write: (chunk: Chunk) => Promise<unknown>,
): Promise<Pumped> {
  const opts = { ...options, layout, skip: (c: number) => skip.has(c) };
  const { chunkSize } = sizesOf(opts);
  const planned = plannedChunks(source, opts);
  const totalItems = planned.reduce((n, c) => {
    const [start, end] = chunkRange(c, source.count, chunkSize);
    return n + end - start;
  }, 0);
  let items = 0;
  let chunks = 0;
  const writing: Promise<unknown>[] = [];
  const report = () => options.onProgress?.({ items, totalItems, chunks, totalChunks: planned.length });
  report();
  try {
    for await (const batch of extractDataset(model, source, opts, options.runner)) {
      items += batch.itemIds.length;
      const chunk = gather(batch);
      if (chunk) {
        const done = write(chunk).then(() => void chunks++);
        done.catch(() => undefined); // surfaced where it is awaited, not as an unhandled rejection
        writing.push(done);
        if (writing.length >= WRITES_IN_FLIGHT) await writing.shift();
      }
      report();
    }
    while (writing.length) await writing.shift();
  } finally {
    await Promise.allSettled(writing); // a failure leaves no write running behind the caller
  }
  if (chunks) report();
  return { chunks, items };
}

/** The options with `chunkSize` resolved: as given (checked), else the default for this layout. */
function withChunkSize(options: WriteDatasetOptions, layout: DatasetLayout, items: number): WriteDatasetOptions {
  const { batchSize } = sizesOf(options);
  const chunkSize = options.chunkSize ?? defaultChunkSize(largestItemBytes(layout), items, batchSize);
  checkChunkBytes(chunkSize, layout);
  return { ...options, batchSize, chunkSize };
}

async function writeZarr(
  model: NeurotapModel,
  source: DataSource,
  path: string,
  given: RunOptions,
  context: ManifestContext,
): Promise<WriteDatasetResult> {
  sizesOf(given); // a bad batch or chunk size fails before the model runs
  const store = openDatasetStore(path, { s3: given.s3 });
  let existing = await readStoreJson<DatasetManifest>(store, MANIFEST_PATH);
  if (existing && given.overwrite && !given.resume && !sameJob(existing, context, given)) {
    await store.delete(await store.list('')); // a neurotap store (it has a manifest) of another job
    existing = undefined;
  }
  // The default chunk size depends on the layout: the store's, or the first batch's.
  const layout = existing ? layoutOf(existing) : await probeLayout(model, source, given);
  const options = withChunkSize(given, layout, source.count);
  const identity = manifestIdentity({ ...context, options });
  let writer: ZarrDatasetWriter;
  let manifest: DatasetManifest;
  if (existing) {
    checkSameJob(existing, identity, path);
    manifest = existing;
    writer = await ZarrDatasetWriter.open(store, manifest);
  } else {
    await checkStoreDirectory(store, layout);
    manifest = buildManifest({ ...context, options }, layout);
    writer = await ZarrDatasetWriter.create(store, manifest);
  }
  if (options.resume) await store.removeStaleLeftovers();
  const mine = plannedChunks(source, options);
  const recorded = options.resume ? await writer.completedChunks() : new Set<number>();
  // A record may outlive its files where durability waits for a group commit: check before skipping.
  const done = store.durableOnPut ? recorded : await verifiedChunks(store, manifest, recorded, mine);
  const skipped = mine.filter((c) => done.has(c)).length;
  try {
    const gatherer = new ChunkGatherer(manifest.chunks.size, source.count);
    const pumped = await pump(
      model,
      source,
      options,
      layoutOf(manifest),
      done,
      (batch) => gatherer.add(batch),
      (chunk) => writer.writeChunk(chunk),
    );
    await writer.commit();
    return result(path, 'zarr', manifest, pumped, skipped);
  } catch (err) {
    await writer.commit().catch(() => undefined); // what was written stays (a resume reuses it); no file left open
    throw err;
  }
}

async function writeFlat(
  model: NeurotapModel,
  source: DataSource,
  path: string,
  format: FlatFormat,
  options: RunOptions,
  context: ManifestContext,
): Promise<WriteDatasetResult> {
  if (options.resume || (options.shard && options.shard.count > 1) || options.chunkSize !== undefined) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Chunks, resume and shards need a Zarr store; ${path} is ${format === 'safetensors' ? 'a .safetensors file' : 'a directory of .npy files'}.`,
      {
        hint: 'Write to a path ending in .zarr; numpy reads it with zarr (see docs/datasets.md). Flat files are written batch by batch, in place.',
      },
    );
  }
  const layout = await probeLayout(model, source, options);
  const manifest = buildManifest(context, layout);
  if (format === 'npy-directory') await clearFlatDirectory(path, manifest, options.overwrite === true);
  const writer = await FlatDatasetWriter.create(path, format, manifest);
  try {
    // A flat file is written batch by batch, in place: every batch is a "chunk" here.
    const pumped = await pump(
      model,
      source,
      options,
      layout,
      new Set(),
      (b) => b,
      (b) => writer.writeBatch(b),
    );
    return { ...result(path, format, manifest, pumped, 0), files: await writer.finish() };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** Extracts the data set into `path` and returns what was written. */
export async function writeDataset(
  model: NeurotapModel,
  source: DataSource,
  path: string,
  options: WriteDatasetOptions = {},
): Promise<WriteDatasetResult> {
  const format = await datasetFormat(path);
  const context: ManifestContext = {
    model,
    source,
    options,
    data: await fingerprintFiles(source.files?.() ?? []),
    version: packageVersion(),
    modelFile: basename(options.modelFile ?? 'model.onnx'),
    modelSha256: sha256(model.bytes),
  };
  const runner = await startWorkers(model, source, options);
  try {
    const run = runner ? { ...options, runner } : options;
    return format === 'zarr'
      ? await writeZarr(model, source, path, run, context)
      : await writeFlat(model, source, path, format, run, context);
  } finally {
    await runner?.close();
  }
}

/**
 * The worker threads `options.workers` asks for, at most one per batch of the data set; none for
 * one worker (the model given runs in this thread).
 */
async function startWorkers(
  model: NeurotapModel,
  source: DataSource,
  options: WriteDatasetOptions,
): Promise<WorkerPool | undefined> {
  const { batchSize } = sizesOf(options);
  const workers = Math.min(checkWorkers(options.workers ?? 1), Math.ceil(source.count / batchSize));
  if (workers <= 1) return undefined;
  return WorkerPool.start(workers, { model: options.modelPath ?? model.bytes, load: { threads: 1 } });
}
