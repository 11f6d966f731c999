/**
 * Reading a store in object storage the way docs/scale-out.md shows for JavaScript: zarrita over
 * a `get(key)` adapter of @aws-sdk/client-s3's GetObject (the docs' `s3Store`), against a real S3
 * server (s3rver on loopback). Every array reads back equal to the same run's local store, a key
 * that is absent reads as absent, and `neurotap ls` lists the s3:// store as the local one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { cli, cliWithEnv, ROOT } from './helpers/dataset.js';
import { BUCKET, type LocalS3, startS3 } from './helpers/s3.js';

let tmp: string;
let s3: LocalS3;
const url = `s3://${BUCKET}/read/digits.zarr`;
const extract = (out: string) => [
  'extract',
  join(ROOT, 'fixtures', 'digits-cnn.onnx'),
  '--inputs',
  join(ROOT, 'fixtures', 'digits'),
  '--batch-size',
  '8',
  '--chunk-size',
  '8',
  '--layers',
  'conv2,fc1',
  '--threads',
  '1',
  '--out',
  out,
  '--json',
];

/** The docs' adapter, with the client passed in (the docs build it from the environment). */
const s3Store = (client: S3Client, bucket: string, prefix: string) => ({
  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + key })); // key starts with '/'
      return await object.Body!.transformToByteArray();
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey') return undefined;
      throw err;
    }
  },
});

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-s3-read-'));
  s3 = await startS3();
  const runs = await Promise.all([
    cli(...extract(join(tmp, 'digits.zarr'))),
    cliWithEnv(s3.env, ...extract(url), '--s3-endpoint', s3.endpoint),
  ]);
  for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
});
after(async () => {
  await s3?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('reading an s3:// store', () => {
  it('zarrita over GetObject reads every array as the local store has it', async () => {
    // An S3-compatible server needs its endpoint and path-style addressing; credentials come from the environment.
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
    try {
      const remote = await zarr.open(s3Store(client, BUCKET, 'read/digits.zarr'), { kind: 'group' });
      const local = await zarr.open(new FileSystemStore(join(tmp, 'digits.zarr')), { kind: 'group' });
      const keys = (remote.attrs.neurotap as { keys: Record<string, string> }).keys;
      assert.deepEqual(Object.keys(keys), ['conv2', 'fc1', 'output:logits']);
      for (const array of Object.values(keys)) {
        const a = await zarr.get(await zarr.open(remote.resolve(array), { kind: 'array' }));
        const b = await zarr.get(await zarr.open(local.resolve(array), { kind: 'array' }));
        assert.deepEqual(a.shape, b.shape);
        assert.deepEqual(a.data, b.data, array);
      }
      const fc1 = await zarr.open(remote.resolve(keys.fc1), { kind: 'array' });
      const { data, shape } = await zarr.get(fc1, [zarr.slice(0, 4), null]);
      assert.deepEqual(shape, [4, 32]);
      assert.ok(data instanceof Float32Array);
      assert.equal(await s3Store(client, BUCKET, 'read/digits.zarr').get('/no/such/key'), undefined);
    } finally {
      client.destroy();
    }
  });

  it('neurotap ls lists it as the local store', async () => {
    const remote = JSON.parse((await cliWithEnv(s3.env, 'ls', url, '--s3-endpoint', s3.endpoint, '--json')).stdout);
    const local = JSON.parse((await cli('ls', join(tmp, 'digits.zarr'), '--json')).stdout);
    assert.equal(remote.path, url);
    assert.deepEqual({ ...remote, path: '' }, { ...local, path: '' });
    assert.deepEqual(remote.chunks, { size: 8, count: 3, complete: 3 });
  });
});
