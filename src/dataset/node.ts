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
export * from './index.js';
export { openDataSource, type OpenSourceOptions } from './node-source.js';
export {
  writeDataset,
  type DatasetFormat,
  type DatasetProgress,
  type WriteDatasetOptions,
  type WriteDatasetResult,
} from './node-write.js';
export { verifyStore, type BadFile, type VerifyReport } from './node-verify.js';
