/**
 * `neurotap ls`: keys, shapes and dtypes of a store from its manifest, and how complete it is:
 * chunk objects per key, chunks with a completion record, and with --shards which shards are
 * done. Two of three shards run here, so the third shard's chunks are missing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreListing } from '../src/node/dataset/list-store.js';
import { cli, DIGITS_CNN, writeDigitsNpy } from './helpers/dataset.js';

let tmp: string;
let store: string;
const extract = (shard: string) =>
  cli(
    'extract',
    DIGITS_CNN,
    '--inputs',
    join(tmp, 'items.npy'),
    '--layers',
    'conv2,fc1',
    '--batch-size',
    '8',
    '--chunk-size',
    '16',
    '--threads',
    '1',
    '--out',
    store,
    '--shard',
    shard,
    '--json',
  );

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-ls-'));
  store = join(tmp, 'acts.zarr');
  writeDigitsNpy(join(tmp, 'items.npy'), 100); // 7 chunks of 16: shards of 3 own chunks 0-1, 2-3, 4-6
  const runs = await Promise.all([extract('0/3'), extract('2/3')]);
  for (const r of runs) assert.equal(r.code, 0, r.stdout + r.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('neurotap ls', () => {
  it('lists keys, shapes, dtypes, the chunks present and the shards done', async () => {
    const run = await cli('ls', store, '--shards', '3', '--json');
    assert.equal(run.code, 0, run.stderr);
    const l = JSON.parse(run.stdout) as StoreListing;
    assert.equal(l.items, 100);
    assert.deepEqual(l.chunks, { size: 16, count: 7, complete: 5 });
    assert.deepEqual(l.missingChunks, [2, 3]);
    assert.deepEqual(
      l.keys.map((k) => [k.key, k.array, k.shape, k.dtype, k.chunks]),
      [
        ['conv2', 'conv2', [100, 16, 8, 8], 'float32', { present: 5, expected: 7 }],
        ['fc1', 'fc1', [100, 32], 'float32', { present: 5, expected: 7 }],
        ['output:logits', 'output_logits', [100, 10], 'float32', { present: 5, expected: 7 }],
      ],
    );
    assert.deepEqual(l.shards, {
      count: 3,
      done: [0, 2],
      progress: [
        { index: 0, complete: 2, chunks: 2 },
        { index: 1, complete: 0, chunks: 2 },
        { index: 2, complete: 3, chunks: 3 },
      ],
    });
    assert.equal(l.model.file, 'digits-cnn.onnx');
    const text = (await cli('ls', store, '--shards', '3')).stdout;
    assert.match(text, /100 in 7 chunks of 16: 5 of 7 complete/);
    assert.match(text, /conv2 +conv2 +\[100, 16, 8, 8\] +float32 +5\/7/);
    assert.match(text, /chunks without a completion record: 2-3/);
    assert.match(text, /2 of 3 shards complete: 0, 2 done; 1 at 0\/2 chunks/);
  });

  it('says all complete once the last shard ran', async () => {
    assert.equal((await extract('1/3')).code, 0);
    const l = JSON.parse((await cli('ls', store, '--json')).stdout) as StoreListing;
    assert.deepEqual([l.chunks.complete, l.missingChunks, l.shards], [7, [], undefined]);
    assert.match((await cli('ls', store)).stdout, /100 in 7 chunks of 16: all 7 complete/);
  });

  it('refuses a directory that is not a store, and a bad shard count', async () => {
    mkdirSync(join(tmp, 'empty.zarr'));
    const notStore = JSON.parse((await cli('ls', join(tmp, 'empty.zarr'), '--json')).stdout);
    assert.equal(notStore.error.code, 'E_BAD_FILE');
    assert.match(notStore.error.message, /no \.neurotap\/manifest\.json/);
    const bad = JSON.parse((await cli('ls', store, '--shards', '0', '--json')).stdout);
    assert.equal(bad.error.code, 'E_BAD_ARGUMENT');
  });
});
