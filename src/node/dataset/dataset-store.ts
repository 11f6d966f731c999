/**
 * The boundary between the data-set writer and where a store lives (Node only). The writer, resume
 * and `verify` reach a store only through `DatasetStore`: whole objects under '/'-separated keys
 * relative to the store root (`zarr.json`, `conv1/c.0.0.0.0`, `.neurotap/manifest.json`).
 * `FileDatasetStore` is the local directory; other back ends (object storage) implement the same
 * interface and plug in through `openDatasetStore`.
 *
 * ```ts
 * const store = openDatasetStore('acts.zarr');
 * await store.put('.neurotap/chunks/0.json', bytes); // whole or not at all
 * await store.sync(); // durable from here on (a group commit)
 * ```
 */

export interface DatasetStore {
  /** Where the store is, for messages: a path or a URL. */
  readonly location: string;
  /**
   * True where a put is durable once it returns (object storage): `--resume` then trusts the
   * completion records instead of reading every recorded chunk back (optional; absent is false).
   */
  readonly durableOnPut?: boolean;
  /** The bytes of one object, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Writes one whole object (the parts concatenated) so that readers see either no object, the
   * old one, or all of the new bytes, never a prefix. Durable only after the next `sync()`.
   */
  put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** Every key at or under `prefix` ('' for the whole store; 'a/' for the folder a), in no set order. */
  list(prefix: string): Promise<string[]>;
  /** Removes the objects (absent ones are no error). */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Makes every `put` that has returned durable (a crash after this loses none of them): one
   * commit for many objects. A no-op where a put is durable once it returns (object storage).
   */
  sync(): Promise<void>;
  /** Leftovers of writers killed earlier (temporary objects), which readers never see: for `verify`. */
  leftovers(): Promise<string[]>;
  /** Removes the leftovers old enough that no live writer (another shard) can still own them; returns them. */
  removeStaleLeftovers(): Promise<string[]>;
}

/** Whether a store location is a URL (`scheme://...`) rather than a local path. */
export function isStoreUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}
