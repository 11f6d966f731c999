/**
 * Data-set extraction for Node: everything isomorphic, plus file sources (`openDataSource`),
 * stores (`writeDataset`: Zarr v3, .npy per key, .safetensors) and `verifyStore`.
 *
 * ```ts
 * import { loadModel } from 'neurotap';
 * const model = await loadModel('digits-cnn.onnx');
 * const source = await openDataSource(model, 'digits/');
 * await writeDataset(model, source, 'acts.zarr', { batchSize: 64 });
 * console.log((await verifyStore('acts.zarr')).ok);
 * ```
 */
export * from '../../dataset/index.js';
export { openDataSource, type OpenSourceOptions } from './open-data-source.js';
export {
  writeDataset,
  type DatasetFormat,
  type DatasetProgress,
  type WriteDatasetOptions,
  type WriteDatasetResult,
} from './write-dataset.js';
export { verifyStore, type BadFile, type VerifyReport } from './verify-store.js';
export {
  listStore,
  type ListedKey,
  type ListStoreOptions,
  type ShardProgress,
  type StoreListing,
} from './list-store.js';
export { S3DatasetStore, type S3StoreOptions } from './s3-store.js';
