/**
 * When an S3 request is worth repeating, and how long to wait first (isomorphic, no SDK types):
 * throttling (503 SlowDown, 429), server errors (500, 502, 504) and dropped or refused
 * connections are retried with exponential backoff and full jitter, as AWS advises, so that
 * shards throttled together do not come back together; anything else (403, 404, a bad request)
 * fails at once.
 */
export interface RetryPolicy {
  /** Tries per request, the first included. */
  attempts: number;
  /** The first wait's ceiling; it doubles per retry up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** At most about 85 s of waiting in all (half that on average) before a request gives up. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 12, baseDelayMs: 100, maxDelayMs: 20_000 };

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
/** Node's codes for a connection that broke, timed out or could not be made (yet). */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);

export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && RETRYABLE_STATUS.has(status)) return true;
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== err && isRetryable(e.cause);
}

/** The wait before retry `attempt` (1 for the first retry): uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
