/**
 * `extractDataset`: the model over a whole data set, one batch at a time (isomorphic). Memory is
 * bounded by two batches: the one the caller holds and the next one, which is already running so
 * that writing a batch overlaps computing the next. Shards and `skip` select whole chunks
 * (`chunkSize` items, a multiple of `batchSize`); the batches of each chunk are run in order.
 *
 * ```ts
 * for await (const { batchIndex, itemIds, activations } of extractDataset(model, source, { batchSize: 64, layers: ['fc1'] })) {
 *   console.log(batchIndex, itemIds[0], activations.get('fc1')?.dims); // [64, 32]
 * }
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { CaptureOptions, NeurotapModel } from '../model.js';
import type { HostTensor, PlainTensor } from '../tensor.js';
import { checkBatchSize, checkChunkSize, checkShard, chunkCount, chunkRange, shardChunks } from './chunks.js';
import { inferLayout, toSampleFirst, type KeyOrigin } from './layout.js';
import type { DataSource, DatasetBatch, DatasetLayout, ExtractDatasetOptions } from './types.js';

/** Items [start, end) of one run, in chunk `chunk`. */
export interface BatchSpan {
  chunk: number;
  start: number;
  end: number;
}

interface RawBatch {
  chunk: number;
  start: number;
  n: number;
  tensors: Map<string, HostTensor>;
  origins: Map<string, KeyOrigin>;
}

export function captureOptionsOf(options: ExtractDatasetOptions): CaptureOptions {
  const { layers, inputs, reduce, dequantize } = options;
  return {
    ...(layers !== undefined ? { layers } : {}),
    ...(inputs !== undefined ? { inputs } : {}),
    ...(reduce !== undefined ? { reduce } : {}),
    ...(dequantize !== undefined ? { dequantize } : {}),
    stop: options.outputs === false,
  };
}

/** Batch and chunk sizes, checked: `chunkSize` defaults to one batch. */
export function sizesOf(options: ExtractDatasetOptions): { batchSize: number; chunkSize: number } {
  const batchSize = checkBatchSize(options.batchSize ?? 32);
  return { batchSize, chunkSize: checkChunkSize(options.chunkSize ?? batchSize, batchSize) };
}

/** The chunks this call will run, in order: the shard's slice minus those to skip. */
export function plannedChunks(source: DataSource, options: ExtractDatasetOptions): number[] {
  const { chunkSize } = sizesOf(options);
  const shard = options.shard ? checkShard(options.shard) : undefined;
  return shardChunks(chunkCount(source.count, chunkSize), shard).filter((c) => !options.skip?.(c));
}

/** The runs of the planned chunks, in order: each chunk cut into batches from its first item. */
export function plannedBatches(source: DataSource, options: ExtractDatasetOptions): BatchSpan[] {
  const { batchSize, chunkSize } = sizesOf(options);
  return plannedChunks(source, options).flatMap((chunk) => {
    const [first, last] = chunkRange(chunk, source.count, chunkSize);
    return Array.from({ length: Math.ceil((last - first) / batchSize) }, (_, i) => {
      const start = first + i * batchSize;
      return { chunk, start, end: Math.min(last, start + batchSize) };
    });
  });
}

/** What one model run gave a batch: tensors under their keys, and the graph value each key was read from. */
export interface CapturedBatch {
  tensors: Map<string, HostTensor>;
  origins: Map<string, KeyOrigin>;
}

/**
 * Runs the model on a batch's feeds somewhere else (worker threads, each with its own session):
 * `size` runs may be in flight at once. Without one, batches run on the model given, one at a time.
 */
export interface BatchRunner {
  readonly size: number;
  run(feeds: Record<string, PlainTensor>, options: CaptureOptions): Promise<CapturedBatch>;
}

/** One capture's activations under their keys, then the model outputs as `output:NAME`. */
export async function captureBatch(
  model: NeurotapModel,
  feeds: Record<string, PlainTensor>,
  options: CaptureOptions,
): Promise<CapturedBatch> {
  const acts = await model.capture(feeds, options);
  const tensors = new Map<string, HostTensor>();
  const origins = new Map<string, KeyOrigin>();
  for (const t of acts.targets) {
    const tensor = acts.get(t.key);
    if (!tensor) continue;
    tensors.set(t.key, tensor as unknown as HostTensor); // ORT Tensors carry type, dims and data as HostTensor does
    origins.set(t.key, {
      value: t.value,
      ...(t.module ? { module: t.module } : {}),
      ...(t.recomputed ? { recomputed: t.recomputed } : {}),
    });
  }
  for (const [name, t] of Object.entries(acts.outputs)) {
    tensors.set(`output:${name}`, t as unknown as HostTensor);
    origins.set(`output:${name}`, { value: name });
  }
  return { tensors, origins };
}

/** Runs one batch: activations under their keys, then the model outputs as `output:NAME`. */
export async function runBatch(
  model: NeurotapModel,
  source: DataSource,
  span: BatchSpan,
  options: ExtractDatasetOptions,
  runner?: BatchRunner,
  read: (start: number, end: number) => Promise<Record<string, unknown>> = (a, b) => source.read(a, b),
): Promise<RawBatch> {
  const { chunk, start, end } = span;
  // Sources only produce numeric tensors, which is what PlainTensor requires.
  const feeds = (await read(start, end)) as Record<string, PlainTensor>;
  const capture = captureOptionsOf(options);
  const { tensors, origins } = runner ? await runner.run(feeds, capture) : await captureBatch(model, feeds, capture);
  return { chunk, start, n: end - start, tensors, origins };
}

/** The layout a data set gets, from its first batch (what a store's manifest records before any shard writes). */
export async function probeLayout(
  model: NeurotapModel,
  source: DataSource,
  options: ExtractDatasetOptions,
): Promise<DatasetLayout> {
  if (source.count === 0)
    throw new NeurotapError('E_BAD_ARGUMENT', 'The data set has no items.', {
      hint: 'Check the data set path; an .npy needs at least one row.',
    });
  const { batchSize } = sizesOf(options);
  const raw = await runBatch(model, source, { chunk: 0, start: 0, end: Math.min(batchSize, source.count) }, options);
  return inferLayout(model, raw.tensors, raw.origins, raw.n);
}

function toBatch(raw: RawBatch, layout: DatasetLayout, source: DataSource, batchSize: number): DatasetBatch {
  const activations = new Map<string, HostTensor>();
  for (const key of layout.keys) {
    const t = raw.tensors.get(key.key);
    if (t) activations.set(key.key, toSampleFirst(t, key, raw.n, raw.chunk));
  }
  const itemIds = Array.from({ length: raw.n }, (_, i) => source.id(raw.start + i));
  return { batchIndex: raw.start / batchSize, chunk: raw.chunk, start: raw.start, itemIds, activations, layout };
}

/** Reads one at a time, in call order: a source need not serve overlapping reads. */
function serialReads(source: DataSource): (start: number, end: number) => Promise<Record<string, unknown>> {
  let last: Promise<unknown> = Promise.resolve();
  return (start, end) => {
    const read = last.then(() => source.read(start, end));
    last = read.catch(() => undefined);
    return read;
  };
}

/**
 * Batches of activations over the data set (or one shard of it), in item order. With a `runner`,
 * up to `runner.size` batches run at once (one more waits its turn, read), and are still
 * yielded in order.
 */
export async function* extractDataset(
  model: NeurotapModel,
  source: DataSource,
  options: ExtractDatasetOptions = {},
  runner?: BatchRunner,
): AsyncGenerator<DatasetBatch> {
  const { batchSize } = sizesOf(options);
  const spans = plannedBatches(source, options);
  let layout = options.layout;
  const read = serialReads(source);
  const depth = (runner?.size ?? 0) + 1;
  const running: Promise<RawBatch>[] = [];
  let started = 0;
  const startNext = () => {
    while (started < spans.length && running.length < depth) {
      const run = runBatch(model, source, spans[started++], options, runner, read);
      run.catch(() => undefined); // surfaced by the await below, not as an unhandled rejection
      running.push(run);
    }
  };
  startNext();
  while (running.length) {
    const raw = await running.shift()!;
    // Start the next runs before handing this batch over (on the model itself: one at a time).
    startNext();
    layout ??= inferLayout(model, raw.tensors, raw.origins, raw.n);
    yield toBatch(raw, layout, source, batchSize);
  }
}
