/**
 * `DatasetStore` in S3 or any S3-compatible object storage (Node only): `s3://bucket/prefix/store.zarr`.
 * A PUT is atomic (readers see the old object or the whole new one), so each object is one PUT
 * with no temporary names, and nothing is ever left over; `list` is a LIST of the prefix. At most
 * `concurrency` requests are in flight (8 by default); the rest wait their turn, so memory stays
 * bounded by what the writer hands over. Throttling and dropped connections are retried with
 * backoff (s3-retry.ts). Credentials come from the AWS SDK's standard chain: the environment,
 * `~/.aws/credentials` and `~/.aws/config` (AWS_PROFILE), SSO, container and instance roles.
 *
 * ```ts
 * const store = new S3DatasetStore('s3://my-bucket/runs/acts.zarr', { endpoint: 'http://127.0.0.1:9000' });
 * await writeDataset(model, source, store, { batchSize: 64 });
 * ```
 */
import { NeurotapError } from '../../errors.js';
import type { DatasetStore } from './dataset-store.js';
import { openS3, s3Error, type S3Connection, type S3Options } from './s3-client.js';
import { Slots } from './slots.js';

export const DEFAULT_S3_CONCURRENCY = 8;

export interface S3StoreOptions extends S3Options {
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

/** The bucket and key prefix of an `s3://bucket/path` URL (the prefix without a trailing '/'). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(url);
  const bucket = match?.[1] ?? '';
  const prefix = (match?.[2] ?? '').replace(/\/+$/, '');
  // Bucket names of S3 (3-63 lowercase letters, digits, dots, hyphens); '//' or '.' parts would name no object.
  const badKey = prefix.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (!match || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || prefix === '' || badKey) {
    throw new NeurotapError('E_OUTPUT_PATH', `Expected a store URL s3://BUCKET/PATH/NAME.zarr; got ${url}.`, {
      hint: 'E.g. s3://my-bucket/runs/acts.zarr: a lowercase bucket name, then the store path inside it.',
    });
  }
  return { bucket, prefix };
}

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export class S3DatasetStore implements DatasetStore {
  readonly bucket: string;
  /** Every key of the store begins with this ('runs/acts.zarr/'). */
  readonly keyPrefix: string;
  /** A PUT that succeeded is stored (S3 is strongly consistent): a resume trusts the records. */
  readonly durableOnPut = true;
  #connection: Promise<S3Connection> | undefined;
  readonly #slots: Slots;

  constructor(
    readonly location: string,
    private readonly options: S3StoreOptions = {},
  ) {
    const { bucket, prefix } = parseS3Url(location);
    this.bucket = bucket;
    this.keyPrefix = `${prefix}/`;
    const concurrency = options.concurrency ?? DEFAULT_S3_CONCURRENCY;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1024)
      throw new NeurotapError('E_BAD_ARGUMENT', `Expected s3 concurrency from 1 to 1024; got ${concurrency}.`, {
        hint: `Leave it out for ${DEFAULT_S3_CONCURRENCY} requests in flight.`,
      });
    this.#slots = new Slots(concurrency);
  }

  /** Connects on first use: constructing a store loads no SDK. */
  #s3(): Promise<S3Connection> {
    this.#connection ??= openS3(this.options);
    return this.#connection;
  }

  /** One request through the slots, its failure as a NeurotapError naming the object. */
  async #request<T>(operation: string, key: string, send: (s3: S3Connection) => Promise<T>): Promise<T> {
    const s3 = await this.#s3();
    try {
      return await this.#slots.run(() => send(s3));
    } catch (err) {
      throw s3Error(operation, `s3://${this.bucket}/${this.keyPrefix}${key}`, err);
    }
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#request('GET', key, (s3) => s3.get(this.bucket, this.keyPrefix + key));
  }

  put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const bytes = data instanceof Uint8Array ? data : concat(data);
    return this.#request('PUT', key, (s3) => s3.put(this.bucket, this.keyPrefix + key, bytes));
  }

  async list(prefix: string): Promise<string[]> {
    const entries = await this.#request('LIST', prefix, (s3) => s3.list(this.bucket, this.keyPrefix + prefix));
    return entries.map((e) => e.key.slice(this.keyPrefix.length));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#request('DELETE', keys[0], (s3) =>
      s3.delete(
        this.bucket,
        keys.map((k) => this.keyPrefix + k),
      ),
    );
  }

  /** A PUT that has returned is durable: nothing to commit. */
  async sync(): Promise<void> {}

  /** A PUT is whole or absent: no temporary objects exist to be left over. */
  async leftovers(): Promise<string[]> {
    return [];
  }

  async removeStaleLeftovers(): Promise<string[]> {
    return [];
  }
}
