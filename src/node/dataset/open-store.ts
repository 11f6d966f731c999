/**
 * The store a data-set location names (Node only): a local path is a directory store; a URL needs
 * the back end of its scheme. Each back end adds one branch here.
 */
import { NeurotapError } from '../../errors.js';
import { type DatasetStore, isStoreUrl } from './dataset-store.js';
import { FileDatasetStore } from './file-store.js';

/** A store given by location, or a store object as it is. */
export type StoreTarget = string | DatasetStore;

export function openDatasetStore(target: StoreTarget): DatasetStore {
  if (typeof target !== 'string') return target;
  if (!isStoreUrl(target)) return new FileDatasetStore(target);
  const scheme = target.slice(0, target.indexOf('://'));
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `Expected a local path for the store; got a ${scheme}:// URL (${target}).`,
    {
      hint: 'Write to a local directory ending in .zarr.',
      details: { scheme },
    },
  );
}
