/**
 * Data sets in object storage, end to end: real `neurotap extract --out s3://...` processes
 * against a real S3 server (s3rver on loopback) give objects byte-identical to a local
 * single-process store: 3 shards at once (no chunk object written twice), a shard killed with
 * SIGKILL mid-upload and resumed (no completed chunk sent again), a run throttled by a proxy
 * (503 SlowDown on every 5th PUT, one dropped connection); `verify` finds a deleted and a
 * corrupted chunk, which `--resume` then rewrites.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { cli, digitsExtractArgs, storeFiles, writeDigitsNpy } from './helpers/dataset.js';
import { BUCKET, type LocalS3, objectsUnder, spawnCli, startProxy, startS3 } from './helpers/s3.js';

const CHUNKS = 8; // 256 items in chunks of 32 (two batches of 16)
/** Per chunk: conv1, fc1, fc2, the model output, and the completion record. */
const OBJECTS_PER_CHUNK = 5;
let tmp: string;
let npy: string;
let s3: LocalS3;
let reference: Map<string, Buffer>;

const args = (out: string, ...more: string[]) =>
  digitsExtractArgs({ inputs: npy, out, batchSize: 16, chunkSize: 32, layers: 'conv1,fc1,fc2' }, ...more);

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-s3-dataset-'));
  npy = join(tmp, 'items.npy');
  writeDigitsNpy(npy, 256);
  s3 = await startS3();
  const local = await cli(...args(join(tmp, 'local.zarr')));
  assert.equal(local.code, 0, local.stderr);
  reference = storeFiles(join(tmp, 'local.zarr'));
});
after(async () => {
  await s3?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI against the server (or a proxy in front of it) and parses its JSON output. */
async function run(endpoint: string, ...cliArgs: string[]) {
  const result = await spawnCli(s3.env, [...cliArgs, '--s3-endpoint', endpoint]).done;
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function assertSameAsLocal(prefix: string): Promise<void> {
  const stored = await objectsUnder(s3.client, prefix);
  assert.deepEqual([...stored.keys()].sort(), [...reference.keys()].sort());
  for (const [key, bytes] of reference) assert.ok(stored.get(key)!.equals(bytes), `${key} differs`);
}

/** The chunk an object belongs to (a chunk file or a completion record), or undefined for metadata. */
function chunkOf(key: string): number | undefined {
  const match = /(?:^\.neurotap\/chunks\/(\d+)\.json|\/c\.(\d+)(?:\.\d+)*)$/.exec(key);
  return match ? Number(match[1] ?? match[2]) : undefined;
}

const url = (prefix: string) => `s3://${BUCKET}/${prefix}`;

describe('s3:// data-set stores', () => {
  it('3 shards at once write the objects of one local run, each chunk object once', async () => {
    const proxy = await startProxy(s3.endpoint);
    try {
      // The endpoint from AWS_ENDPOINT_URL this time, as a job runner's environment would give it.
      const env = { ...s3.env, AWS_ENDPOINT_URL: proxy.endpoint };
      const runs = await Promise.all(
        [0, 1, 2].map((i) => spawnCli(env, args(url('shards/acts.zarr'), '--shard', `${i}/3`)).done),
      );
      runs.forEach((r, i) => assert.equal(r.code, 0, `shard ${i}: ${r.stdout}${r.stderr}`));
      assert.deepEqual(
        runs.map((r) => JSON.parse(r.stdout).chunks.written),
        [2, 3, 3],
      );
      const chunkPuts = proxy.forwarded
        .map((k) => k.slice('shards/acts.zarr/'.length))
        .filter((k) => chunkOf(k) !== undefined);
      assert.equal(chunkPuts.length, CHUNKS * OBJECTS_PER_CHUNK);
      assert.equal(new Set(chunkPuts).size, chunkPuts.length, 'a chunk object was written twice');
    } finally {
      await proxy.close();
    }
    await assertSameAsLocal('shards/acts.zarr');
    const verified = await spawnCli(s3.env, ['verify', url('shards/acts.zarr'), '--s3-endpoint', s3.endpoint]).done;
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /ok: all 8 chunks complete/);
    const listed = await run(s3.endpoint, 'ls', url('shards/acts.zarr'), '--shards', '3', '--json');
    assert.deepEqual([listed.chunks.complete, listed.shards.done], [CHUNKS, [0, 1, 2]]);
  });

  it('a shard killed with SIGKILL mid-upload resumes without sending completed chunks again', async () => {
    const store = url('killed/acts.zarr');
    let victim: ReturnType<typeof spawnCli> | undefined;
    const killer = await startProxy(s3.endpoint, { onPut: (count) => count === 25 && victim?.child.kill('SIGKILL') });
    try {
      victim = spawnCli(s3.env, [...args(store), '--s3-endpoint', killer.endpoint]);
      const killed = await victim.done;
      assert.equal(killed.code, 128, `not killed: ${killed.stdout}${killed.stderr}`);
    } finally {
      await killer.close();
    }
    const before = await objectsUnder(s3.client, 'killed/acts.zarr');
    const done = new Set([...before.keys()].filter((k) => k.startsWith('.neurotap/chunks/')).map((k) => chunkOf(k)!));
    assert.ok(done.size > 0 && done.size < CHUNKS, `${done.size} chunks complete at the kill`);
    const recorder = await startProxy(s3.endpoint);
    try {
      const resumed = await run(recorder.endpoint, ...args(store), '--resume');
      assert.deepEqual(resumed.chunks, { size: 32, total: CHUNKS, written: CHUNKS - done.size, skipped: done.size });
      const resent = recorder.forwarded.map((k) => chunkOf(k.slice('killed/acts.zarr/'.length)));
      assert.deepEqual(
        resent.filter((c) => c !== undefined && done.has(c)),
        [],
        'a completed chunk was sent again',
      );
    } finally {
      await recorder.close();
    }
    await assertSameAsLocal('killed/acts.zarr');
  });

  it('throttled (SlowDown on every 5th PUT, one dropped connection), a run retries to the same objects', async () => {
    const proxy = await startProxy(s3.endpoint, { slowDownEvery: 5, dropPuts: [7] });
    try {
      const result = await run(proxy.endpoint, ...args(url('throttled/acts.zarr')));
      assert.equal(result.chunks.written, CHUNKS);
      assert.ok(proxy.slowedDown >= 8, `${proxy.slowedDown} SlowDown answers`);
      assert.equal(proxy.dropped, 1);
    } finally {
      await proxy.close();
    }
    await assertSameAsLocal('throttled/acts.zarr');
  });

  it('verify finds a deleted and a corrupted chunk; --resume rewrites them once their records go', async () => {
    const prefix = 'throttled/acts.zarr';
    const deleted = [...reference.keys()].find((k) => k.startsWith('conv1/c.3.'))!;
    const corrupted = [...reference.keys()].find((k) => k.startsWith('fc1/c.5.'))!;
    await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${deleted}` }));
    const bad = Buffer.from(reference.get(corrupted)!);
    bad[0] ^= 1;
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${corrupted}`, Body: bad }));
    const verified = await spawnCli(s3.env, ['verify', url(prefix), '--json', '--s3-endpoint', s3.endpoint]).done;
    assert.equal(verified.code, 2, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout).error.details.report;
    assert.deepEqual(report.badFiles, [
      { chunk: 3, file: deleted, problem: 'missing' },
      { chunk: 5, file: corrupted, problem: 'checksum' },
    ]);
    assert.deepEqual(report.missingChunks, []);
    for (const chunk of [3, 5])
      await s3.client.send(
        new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}/.neurotap/chunks/${chunk}.json` }),
      );
    const resumed = await run(s3.endpoint, ...args(url(prefix)), '--resume');
    assert.equal(resumed.chunks.written, 2);
    await assertSameAsLocal(prefix);
  });
});
