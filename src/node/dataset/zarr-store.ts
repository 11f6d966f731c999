/**
 * A `DatasetStore` as zarrita sees a store (Node only): zarrita reads and writes the Zarr metadata
 * through it, with its keys ('/zarr.json') mapped to store keys ('zarr.json'). Chunks the writer
 * puts into the store itself, whole. `AtomicFileStore` is zarrita over a local directory.
 */
import type { AbsolutePath, AsyncMutable } from 'zarrita';
import type { DatasetStore } from './dataset-store.js';
import { FileDatasetStore } from './file-store.js';

export { sha256 } from './checksums.js'; // where it was before checksums.ts

const storeKey = (key: AbsolutePath) => key.replace(/^\//, '');

export class ZarritaStore implements AsyncMutable {
  constructor(readonly store: DatasetStore) {}

  get(key: AbsolutePath): Promise<Uint8Array | undefined> {
    return this.store.get(storeKey(key));
  }

  set(key: AbsolutePath, value: Uint8Array): Promise<void> {
    return this.store.put(storeKey(key), value);
  }
}

/** zarrita over a local directory, every write atomic (see FileDatasetStore). */
export class AtomicFileStore extends ZarritaStore {
  constructor(readonly root: string) {
    super(new FileDatasetStore(root));
  }
}
