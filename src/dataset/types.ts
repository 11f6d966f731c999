/**
 * The shapes of data-set extraction (isomorphic): where items come from, what a batch carries, and
 * how each captured key is laid out as one array with the sample axis first.
 *
 * ```ts
 * const source: DataSource = arraySource({ image: { type: 'float32', dims: [1000, 1, 8, 8], data } });
 * for await (const batch of extractDataset(model, source, { batchSize: 64 })) console.log(batch.itemIds.length);
 * ```
 */
import type { SelectOptions } from '../capture/select.js';
import type { DType, HostTensor } from '../tensor.js';

/** Random access to the items of a data set; each read returns feeds whose leading axis is the item axis. */
export interface DataSource {
  /** Number of items. Known up front, so chunks, shards and npy headers can be planned before any run. */
  readonly count: number;
  /** A stable id for item `index` (file path, row number, jsonl `id`), recorded in manifests and top-k lists. */
  id(index: number): string;
  /** Feeds for items [start, end): every tensor has end - start as its first dimension. */
  read(start: number, end: number): Promise<Record<string, HostTensor>>;
  /** What a manifest records about the source (kind, path): plain JSON. */
  describe(): SourceDescription;
  /** The files the items are read from: the manifest records their content fingerprints. */
  files?(): readonly string[];
  /** Releases open files; safe to call twice. */
  close?(): Promise<void>;
}

export interface SourceDescription {
  readonly kind: string;
  readonly path?: string;
  readonly [field: string]: unknown;
}

/** A slice of the chunks: shard `index` (from 0) of `count`, as Kubernetes' JOB_COMPLETION_INDEX counts. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export interface ExtractDatasetOptions extends SelectOptions {
  /** Items per run of the model (default 32). */
  batchSize?: number;
  /**
   * Items per chunk, a multiple of batchSize: the unit of `shard` and `skip`, and in a store of a
   * chunk file and its completion record. Default here: batchSize; `writeDataset` defaults to
   * `defaultChunkSize` (about 8 MiB for the largest key).
   */
  chunkSize?: number;
  /** Process only this shard's chunks. */
  shard?: Shard;
  /** Chunks to leave out, e.g. those a previous run completed (`--resume`). */
  skip?: (chunk: number) => boolean;
  /** Also keep the model's outputs as `output:NAME` keys (default true; false allows early stop). */
  outputs?: boolean;
  /** Layout to apply (from a store's manifest); inferred from the first batch when absent. */
  layout?: DatasetLayout;
}

/** One run of the model over consecutive items, with activations split per item along axis 0. */
export interface DatasetBatch {
  /** Which batch this is: items [batchIndex * batchSize, ... + itemIds.length). */
  readonly batchIndex: number;
  /** The chunk the batch belongs to (items [chunk * chunkSize, ...)); a chunk holds whole batches. */
  readonly chunk: number;
  readonly start: number;
  readonly itemIds: readonly string[];
  /** Every stored key, sample axis first: dims [items, ...layout shape]. */
  readonly activations: ReadonlyMap<string, HostTensor>;
  /** How keys map to arrays (the same object for every batch of a run). */
  readonly layout: DatasetLayout;
}

/** How one captured key becomes one array. */
export interface KeyLayout {
  readonly key: string;
  /** The array's name in a store: the key with characters unsafe in paths replaced. */
  readonly array: string;
  readonly dtype: DType;
  /** Dims of one item (the array is [count, ...shape]). */
  readonly shape: readonly number[];
  /** Axis of the captured tensor that runs over items (0 except for e.g. an LSTM's h_n). */
  readonly sampleAxis: number;
  /** The PyTorch module, when the key is a module's activation. */
  readonly module?: string;
  /** Module type (Conv2d, Linear...), used to pick the neuron axis for statistics. */
  readonly moduleType?: string;
  /** How the tensor was recomputed beside a fused op (attentions of a fused attention op), where it was not read from the graph. */
  readonly recomputed?: string;
}

export interface DatasetLayout {
  readonly keys: readonly KeyLayout[];
  /** Keys captured but not storable per item (no axis runs over items), with the reason. */
  readonly skipped: readonly { key: string; reason: string }[];
}
