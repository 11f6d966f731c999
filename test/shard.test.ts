/**
 * Scale-out: three `neurotap extract --shard I/3` processes started together on one store give a
 * store identical, file for file and byte for byte, to a single-process run. Shards split by
 * chunk, and a chunk here holds three batches.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, cliWithEnv, digitsExtractArgs, storeFiles, writeDigitsNpy } from './helpers/dataset.js';

let tmp: string;
let npy: string;
const args = (out: string) => digitsExtractArgs({ inputs: npy, out, batchSize: 16, chunkSize: 48 });

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-shard-'));
  npy = join(tmp, 'items.npy');
  writeDigitsNpy(npy, 500); // 11 chunks of 48 items; the last one 20 (a batch of 16, one of 4)
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('--shard INDEX/COUNT', () => {
  it('3 processes in parallel write the same store as one', async () => {
    const single = join(tmp, 'single.zarr');
    const sharded = join(tmp, 'sharded.zarr');
    const one = await cli(...args(single));
    assert.equal(one.code, 0, one.stderr);
    // Shard 2 as a Kubernetes indexed Job's pod would run it: --shard auto.
    const k8s = { JOB_COMPLETION_INDEX: '2', NEUROTAP_SHARD_COUNT: '3' };
    const runs = await Promise.all([
      cli(...args(sharded), '--shard', '0/3'),
      cli(...args(sharded), '--shard', '1/3'),
      cliWithEnv(k8s, ...args(sharded), '--shard', 'auto'),
    ]);
    runs.forEach((r, i) => assert.equal(r.code, 0, `shard ${i}: ${r.stdout}${r.stderr}`));
    const written = runs.map((r) => JSON.parse(r.stdout).chunks.written);
    assert.deepEqual(written, [3, 4, 4]);
    assert.deepEqual(
      runs.map((r) => JSON.parse(r.stdout).itemsWritten),
      [144, 192, 164],
    );
    const expected = storeFiles(single);
    const actual = storeFiles(sharded);
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
    for (const [file, bytes] of expected) assert.ok(bytes.equals(actual.get(file)!), `${file} differs`);
    assert.equal((await cli('verify', sharded)).code, 0);
  });

  it('rejects an index outside 0..COUNT-1', async () => {
    const run = await cli(...args(join(tmp, 'bad.zarr')), '--shard', '1/1');
    assert.equal(JSON.parse(run.stdout).error.code, 'E_BAD_ARGUMENT');
  });
});
