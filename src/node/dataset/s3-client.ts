/**
 * The S3 side of `s3://` stores (Node only): the AWS SDK loaded on first use (an optional
 * dependency that nothing else imports, so a run that never touches S3 never loads it), a client
 * for any S3-compatible endpoint, and every request retried with backoff on throttling and on
 * dropped connections.
 *
 * ```ts
 * const s3 = await openS3({ endpoint: 'http://127.0.0.1:9000' });
 * await s3.put('bucket', 'acts.zarr/zarr.json', bytes);
 * ```
 */
import { NeurotapError } from '../../errors.js';
import { backoffMs, isRetryable, type RetryPolicy, DEFAULT_RETRY } from './s3-retry.js';

type Sdk = typeof import('@aws-sdk/client-s3');

let sdk: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  sdk ??= import('@aws-sdk/client-s3').catch((cause) => {
    sdk = undefined;
    throw new NeurotapError(
      'E_MISSING_DEPENDENCY',
      'Stores at s3:// URLs need @aws-sdk/client-s3, which is not installed.',
      {
        hint: 'npm install @aws-sdk/client-s3 (an optional dependency of neurotap), or write to a local path.',
        cause,
      },
    );
  });
  return sdk;
}

export interface S3Options {
  /** An S3-compatible endpoint (MinIO, Ceph, R2, a local test server); else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS itself. */
  endpoint?: string;
  retry?: Partial<RetryPolicy>;
  /** Keys per LIST page: 1000 (S3's most) unless smaller. */
  listPageSize?: number;
  /** A request whose connection stays silent this long is abandoned and retried (default 60 s). */
  requestTimeoutMs?: number;
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: { operation: string; key: string; attempt: number; error: unknown }) => void;
}

/** One object of a LIST: its key and size. */
export interface S3Entry {
  key: string;
  size: number;
}

export interface S3Connection {
  /** The endpoint in use, or undefined for AWS's own. */
  readonly endpoint: string | undefined;
  get(bucket: string, key: string): Promise<Uint8Array | undefined>;
  put(bucket: string, key: string, bytes: Uint8Array): Promise<void>;
  delete(bucket: string, keys: string[]): Promise<void>;
  list(bucket: string, prefix: string): Promise<S3Entry[]>;
}

/** The endpoint of this run: the option, else the SDK's standard variables (which it would read itself). */
function endpointOf(options: S3Options): string | undefined {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  if (endpoint === undefined || endpoint === '') return undefined;
  if (!/^https?:\/\/[^/]/.test(endpoint)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected the S3 endpoint to be an http(s):// URL; got '${endpoint}'.`, {
      hint: 'Give the s3 endpoint option as a URL such as http://127.0.0.1:9000 (MinIO), or leave it out for AWS.',
    });
  }
  return endpoint;
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export async function openS3(options: S3Options = {}): Promise<S3Connection> {
  const endpoint = endpointOf(options);
  const s3 = await loadSdk();
  const client = new s3.S3Client({
    // S3-compatible servers rarely have virtual-host buckets, and many refuse the SDK's default CRC32
    // checksum headers (R2: 501 NotImplemented); integrity end to end is the checksums in each chunk's record.
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined),
    followRegionRedirects: true,
    maxAttempts: 1, // retries are ours (below): the SDK's retry quota runs dry under long throttling
    // A connection that goes silent (a dropped link, a hung server) fails as TimeoutError and is retried.
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
    },
  });
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const retrying = async <T>(operation: string, key: string, send: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (attempt >= policy.attempts || !isRetryable(error)) throw error;
        options.onRetry?.({ operation, key, attempt, error });
        await new Promise((resolve) => setTimeout(resolve, backoffMs(policy, attempt)));
      }
    }
  };
  return {
    endpoint,
    get: (bucket, key) =>
      retrying('GET', key, async () => {
        try {
          const out = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
          return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
        } catch (err) {
          if (statusOf(err) === 404 && (err as Error).name !== 'NoSuchBucket') return undefined;
          throw err;
        }
      }),
    put: (bucket, key, bytes) =>
      retrying('PUT', key, async () => {
        await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
      }),
    delete: async (bucket, keys) => {
      for (let i = 0; i < keys.length; i += 1000) {
        const Objects = keys.slice(i, i + 1000).map((Key) => ({ Key }));
        await retrying('DELETE', keys[i], () =>
          client.send(new s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } })),
        );
      }
    },
    list: async (bucket, prefix) => {
      const entries: S3Entry[] = [];
      let token: string | undefined;
      do {
        const page = await retrying('LIST', prefix, () =>
          client.send(
            new s3.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ContinuationToken: token,
              MaxKeys: options.listPageSize ?? 1000,
            }),
          ),
        );
        for (const o of page.Contents ?? []) if (o.Key) entries.push({ key: o.Key, size: o.Size ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return entries;
    },
  };
}

/** An S3 failure as a NeurotapError naming the object and what to check. */
export function s3Error(operation: string, url: string, err: unknown): NeurotapError {
  if (err instanceof NeurotapError) return err;
  const e = err as Error & { code?: string; Code?: string };
  const name = e.Code ?? e.name ?? e.code ?? 'Error';
  const status = statusOf(err);
  const denied = status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Credentials/.test(name);
  const hint =
    name === 'NoSuchBucket'
      ? 'Create the bucket first (neurotap creates objects, not buckets), or check its name.'
      : denied
        ? 'Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials) and the bucket policy.'
        : 'Check the endpoint (the s3 endpoint option or AWS_ENDPOINT_URL) and the network; throttling and dropped connections were already retried.';
  return new NeurotapError(
    operation === 'GET' || operation === 'LIST' ? 'E_BAD_FILE' : 'E_OUTPUT_PATH',
    `Expected to ${operation} ${url}; S3 answered ${name}${status ? ` (HTTP ${status})` : ''}: ${e.message}.`,
    { hint, cause: err, details: { url, operation, s3Code: name, httpStatus: status } },
  );
}
