/**
 * Data-set extraction, isomorphic part: batches over any DataSource, layouts, manifests, neuron
 * statistics. File sources and stores live in `src/node/dataset/` (Node only).
 *
 * ```ts
 * const source = arraySource({ image: { type: 'float32', dims: [5000, 1, 8, 8], data } });
 * for await (const batch of extractDataset(model, source, { batchSize: 64 })) { ... }
 * const stats = await computeNeuronStats(model, source, { layers: ['fc1'] });
 * ```
 */
export { arraySource, type ArraySourceOptions } from './array-source.js';
export { chunkCount, chunkRange, defaultChunkSize, shardChunks } from './chunks.js';
export { extractDataset } from './extract.js';
export { SHARD_VARIABLES, shardFromEnvironment, type ShardFromEnvironment } from './shard-env.js';
export { MANIFEST_FORMAT, type DatasetManifest } from './manifest.js';
export type { NeuronSummary } from './neuron-accumulator.js';
export {
  computeNeuronStats,
  defaultNeuronAxis,
  type LayerStats,
  type NeuronStatsOptions,
  type NeuronStatsReport,
} from './compute-neuron-stats.js';
export { statsToCsv, statsToJson } from './stats-serialize.js';
export type {
  DataSource,
  DatasetBatch,
  DatasetLayout,
  ExtractDatasetOptions,
  KeyLayout,
  Shard,
  SourceDescription,
} from './types.js';
