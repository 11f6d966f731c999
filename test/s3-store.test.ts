/**
 * The s3:// store against a real S3 server (s3rver on loopback): the store contract, LIST page
 * after page, at most 8 requests in flight, throttling (503 SlowDown), a dropped and a silent
 * connection retried to the same objects, and a missing bucket failing at once with a typed error.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isNeurotapError } from '../src/errors.js';
import { parseS3Url, S3DatasetStore } from '../src/node/dataset/s3-store.js';
import { backoffMs, isRetryable } from '../src/node/dataset/s3-retry.js';
import { storeContract } from './helpers/store-contract.js';
import { BUCKET, type LocalS3, objectsUnder, startProxy, startS3 } from './helpers/s3.js';

let s3: LocalS3;
before(async () => {
  s3 = await startS3();
});
after(() => s3.close());

/** Deterministic bytes of a given length, different per seed. */
const bytesOf = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) & 255);

let n = 0;

describe('s3:// store', () => {
  storeContract(async () => new S3DatasetStore(`s3://${BUCKET}/contract/s${n++}.zarr`, { endpoint: s3.endpoint }));

  it('lists page after page (continuation tokens)', async () => {
    const store = new S3DatasetStore(`s3://${BUCKET}/runs/many.zarr`, { endpoint: s3.endpoint, listPageSize: 10 });
    const keys = Array.from({ length: 25 }, (_, i) => `.neurotap/chunks/${i}.json`);
    await Promise.all(keys.map((k, i) => store.put(k, bytesOf(1, i))));
    assert.deepEqual((await store.list('.neurotap/chunks/')).sort(), [...keys].sort());
  });

  it('keeps at most 8 PUTs in flight, and retries SlowDown and a dropped connection to the same objects', async () => {
    const proxy = await startProxy(s3.endpoint, { slowDownEvery: 5, dropPuts: [3] });
    const retries: string[] = [];
    const store = new S3DatasetStore(`s3://${BUCKET}/runs/throttled.zarr`, {
      endpoint: proxy.endpoint,
      retry: { baseDelayMs: 5 },
      onRetry: (r) => retries.push(r.key),
    });
    try {
      const objects = Array.from({ length: 40 }, (_, i) => [`a/c.${i}`, bytesOf(20_000 + i, i)] as const);
      await Promise.all(objects.map(([k, b]) => store.put(k, b)));
      assert.ok(proxy.slowedDown >= 8, `${proxy.slowedDown} SlowDown answers`);
      assert.equal(proxy.dropped, 1);
      assert.equal(retries.length, proxy.slowedDown + proxy.dropped);
      assert.ok(proxy.maxInFlight <= 8 && proxy.maxInFlight >= 2, `${proxy.maxInFlight} PUTs in flight`);
      const stored = await objectsUnder(s3.client, 'runs/throttled.zarr');
      assert.equal(stored.size, objects.length);
      for (const [k, b] of objects) assert.ok(stored.get(k)?.equals(b), `${k} differs`);
    } finally {
      await proxy.close();
    }
  });

  it('abandons and retries a request whose connection goes silent', async () => {
    const proxy = await startProxy(s3.endpoint, { stallPuts: [2] });
    const retries: unknown[] = [];
    const store = new S3DatasetStore(`s3://${BUCKET}/runs/stalled.zarr`, {
      endpoint: proxy.endpoint,
      requestTimeoutMs: 300,
      retry: { baseDelayMs: 5 },
      onRetry: (r) => retries.push((r.error as Error).name),
    });
    try {
      const objects = [0, 1, 2].map((i) => [`a/c.${i}`, bytesOf(1000, i)] as const);
      for (const [k, b] of objects) await store.put(k, b);
      assert.equal(proxy.stalled, 1);
      assert.deepEqual(retries, ['TimeoutError']);
      const stored = await objectsUnder(s3.client, 'runs/stalled.zarr');
      for (const [k, b] of objects) assert.ok(stored.get(k)?.equals(b), `${k} differs`);
    } finally {
      await proxy.close();
    }
  });

  it('fails at once, typed, on a bucket that does not exist', async () => {
    const retries: unknown[] = [];
    const store = new S3DatasetStore('s3://no-such-bucket/acts.zarr', {
      endpoint: s3.endpoint,
      onRetry: (r) => retries.push(r),
    });
    await assert.rejects(store.put('zarr.json', bytesOf(2, 0)), (err) => {
      assert.ok(isNeurotapError(err, 'E_OUTPUT_PATH'), String(err));
      assert.match(err.message, /s3:\/\/no-such-bucket\/acts\.zarr\/zarr\.json.*NoSuchBucket.*404/);
      assert.match(err.hint!, /Create the bucket/);
      return true;
    });
    assert.equal(retries.length, 0);
  });

  it('refuses an endpoint that is not an http(s) URL, before any request', async () => {
    const store = new S3DatasetStore(`s3://${BUCKET}/x.zarr`, { endpoint: 'minio:9000' });
    await assert.rejects(
      store.get('zarr.json'),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /minio:9000/.test(e.message),
    );
  });

  it('refuses URLs that name no store', () => {
    for (const url of ['s3://b', 's3://Bucket/x.zarr', 's3://bucket/a//b.zarr', 's3://bucket/../x.zarr', 's3:/x'])
      assert.throws(
        () => parseS3Url(url),
        (e) => isNeurotapError(e, 'E_OUTPUT_PATH'),
        url,
      );
    assert.deepEqual(parseS3Url('s3://my-bucket/runs/acts.zarr/'), { bucket: 'my-bucket', prefix: 'runs/acts.zarr' });
  });
});

describe('the AWS SDK stays optional', () => {
  it('is imported by s3-client.ts alone, and only on demand (import(), never a static import)', () => {
    const src = join(import.meta.dirname, '..', 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const users = files.filter((f) => readFileSync(join(src, f), 'utf8').includes('@aws-sdk/'));
    assert.deepEqual(users, [join('node', 'dataset', 's3-client.ts')]);
    const text = readFileSync(join(src, users[0]), 'utf8');
    assert.doesNotMatch(text, /^import[^(]*@aws-sdk/m);
    assert.match(text, /await import\('@aws-sdk\/client-s3'\)|import\('@aws-sdk\/client-s3'\)\.catch/);
  });
});

describe('retry policy', () => {
  it('retries throttling, server errors and broken connections; not 403 or 404', () => {
    const s3Failure = (name: string, status: number) =>
      Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    assert.equal(isRetryable(s3Failure('SlowDown', 503)), true);
    assert.equal(isRetryable(s3Failure('InternalError', 500)), true);
    assert.equal(isRetryable(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
    assert.equal(isRetryable(s3Failure('AccessDenied', 403)), false);
    assert.equal(isRetryable(s3Failure('NoSuchBucket', 404)), false);
    assert.equal(isRetryable(new Error('plain')), false);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { attempts: 12, baseDelayMs: 100, maxDelayMs: 20_000 };
    assert.deepEqual(
      [1, 2, 3, 10].map((a) => backoffMs(policy, a, () => 0.999999)),
      [99, 199, 399, 19_999],
    );
    assert.equal(
      backoffMs(policy, 4, () => 0),
      0,
    );
  });
});
