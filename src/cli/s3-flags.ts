/**
 * `--s3-endpoint URL` and `--s3-concurrency N`, for the commands that read or write a store at an
 * s3:// URL (extract --inputs, verify): parsed into the library's `s3` store options.
 */
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../errors.js';
import type { S3StoreOptions } from '../node/dataset/s3-store.js';
import { lastValue, parseInteger, type ScannedFlags } from './argv.js';

export const S3_ARGS = {
  's3-endpoint': {
    type: 'string',
    valueHint: 'URL',
    description:
      'For an s3:// store: an S3-compatible endpoint (MinIO, Ceph, R2...; default AWS_ENDPOINT_URL, else AWS itself)',
  },
  's3-concurrency': {
    type: 'string',
    valueHint: 'N',
    description: 'For an s3:// store: requests in flight at once (default 8)',
  },
} satisfies ArgsDef;

/** The s3 store options the flags give; refused for a store that is not at an s3:// URL. */
export function s3OptionsOf(flags: ScannedFlags, store: string): S3StoreOptions | undefined {
  const endpoint = lastValue(flags, 's3-endpoint');
  const concurrency = lastValue(flags, 's3-concurrency');
  const s3 = /^s3:\/\//i.test(store);
  if (!s3) {
    const given = ['s3-endpoint', 's3-concurrency'].find((f) => flags.values.has(f));
    if (given === undefined) return undefined;
    throw new NeurotapError('E_BAD_ARGUMENT', `--${given} applies to a store at an s3:// URL; the store is ${store}.`, {
      hint: 'Give --out s3://BUCKET/PATH.zarr, or drop the flag.',
    });
  }
  // The SDK warns on every Node 20 run that its 2027 releases will need Node 22: not this command's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(concurrency !== undefined ? { concurrency: parseInteger(concurrency, 's3-concurrency', 1, 1024) } : {}),
  };
}
