/**
 * The store a data-set location names (Node only): a local path is a directory store; a URL needs
 * the back end of its scheme. Each back end adds one branch here.
 */
import { NeurotapError } from '../../errors.js';
import { type DatasetStore, isStoreUrl } from './dataset-store.js';
import { FileDatasetStore } from './file-store.js';
import { S3DatasetStore, type S3StoreOptions } from './s3-store.js';

/** A store given by location, or a store object as it is. */
export type StoreTarget = string | DatasetStore;

export interface OpenStoreOptions {
  /** For s3:// locations: the endpoint, concurrency and retries (S3DatasetStore). */
  s3?: S3StoreOptions;
}

export function openDatasetStore(target: StoreTarget, options: OpenStoreOptions = {}): DatasetStore {
  if (typeof target !== 'string') return target;
  if (!isStoreUrl(target)) return new FileDatasetStore(target);
  const scheme = target.slice(0, target.indexOf('://'));
  // Constructing it loads no AWS SDK: that happens on the first request.
  if (scheme.toLowerCase() === 's3') return new S3DatasetStore(target, options.s3);
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `Expected a local path or an s3:// URL for the store; got a ${scheme}:// URL (${target}).`,
    {
      hint: 'Write to a local directory ending in .zarr, or to s3://BUCKET/PATH.zarr (any S3-compatible endpoint).',
      details: { scheme },
    },
  );
}
