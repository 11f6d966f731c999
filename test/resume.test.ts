/**
 * Resume and integrity: a real `neurotap extract` child killed with SIGKILL mid-run (its chunks
 * hold three batches, so the kill lands inside a chunk being gathered or written), then resumed,
 * gives a store identical byte for byte to an uninterrupted run; so does a run that fails between
 * two batches of one chunk; `verify` finds missing and corrupt chunks; a resume with other
 * options (another chunk size included) is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { arraySource, writeDataset, type DataSource } from '../src/node/dataset/index.js';
import { loadModel } from '../src/node/index.js';
import {
  BIN,
  cli,
  digitsExtractArgs,
  digitsLike,
  DIGITS_CNN,
  ROOT,
  storeFiles,
  writeDigitsNpy,
} from './helpers/dataset.js';

let tmp: string;
let npy: string;
const ITEMS = 2400;
const CHUNK = 24; // three batches of 8
const args = (out: string) =>
  digitsExtractArgs({ inputs: npy, out, batchSize: 8, chunkSize: CHUNK, layers: 'conv1,fc1,fc2', json: false });

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-resume-'));
  npy = join(tmp, 'items.npy');
  writeDigitsNpy(npy, ITEMS);
  const reference = await cli(...args(join(tmp, 'reference.zarr')));
  assert.equal(reference.code, 0, reference.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Completion records (a kill can leave a record's temporary file, which does not count). */
const records = (store: string) => {
  const dir = join(store, '.neurotap', 'chunks');
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+\.json$/.test(n)).length : 0;
};

/** Starts the extraction and SIGKILLs it once `after` chunks are recorded; resolves with the count then. */
function killMidRun(out: string, afterChunks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args(out)], { cwd: ROOT, stdio: 'ignore' });
    const poll = setInterval(() => {
      if (records(out) < afterChunks) return;
      clearInterval(poll);
      child.kill('SIGKILL');
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve(records(out));
      else reject(new Error(`the extraction ended (code ${code}) before it could be killed; make it longer`));
    });
  });
}

describe('resume after kill -9', () => {
  it('skips completed chunks and ends byte-identical to an uninterrupted run', async () => {
    const out = join(tmp, 'killed.zarr');
    const done = await killMidRun(out, 20);
    const total = ITEMS / CHUNK;
    assert.ok(done >= 20 && done < total, `killed after ${done} of ${total} chunks`);
    const broken = await cli('verify', out, '--json');
    assert.equal(broken.code, 2);
    assert.equal(JSON.parse(broken.stdout).error.details.report.missingChunks.length, total - done);
    const resumed = await cli(...args(out), '--resume', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout);
    assert.equal(result.chunks.skipped, done);
    assert.equal(result.chunks.written, total - done);
    const expected = storeFiles(join(tmp, 'reference.zarr'));
    const actual = storeFiles(out);
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
    for (const [file, bytes] of expected) assert.ok(bytes.equals(actual.get(file)!), `${file} differs`);
    assert.equal((await cli('verify', out)).code, 0);
  });
});

describe('resume after a failure inside a chunk', () => {
  it('redoes the whole chunk whose first batches were gathered but not written', async () => {
    const model = await loadModel(DIGITS_CNN, { threads: 1 });
    const n = 200; // chunks of 32 items (4 batches of 8): 6 full, the last 8 items
    const healthy = () => arraySource({ image: { type: 'float32', dims: [n, 1, 8, 8], data: digitsLike(n, 5) } });
    const failing = (): DataSource => {
      const inner = healthy();
      // Item 80 is in the third batch of chunk 2 (items 64..95): two of its batches are in by then.
      return {
        ...inner,
        read: (start, end) => (start === 80 ? Promise.reject(new Error('disk gone')) : inner.read(start, end)),
      };
    };
    const options = { batchSize: 8, chunkSize: 32, layers: ['conv1', 'fc1'] };
    try {
      const reference = join(tmp, 'lib-reference.zarr');
      await writeDataset(model, healthy(), reference, options);
      const out = join(tmp, 'lib-failed.zarr');
      await assert.rejects(writeDataset(model, failing(), out, options), /disk gone/);
      assert.equal(records(out), 2);
      assert.ok(!existsSync(join(out, 'fc1', 'c.2.0')), 'nothing of chunk 2 is written');
      const resumed = await writeDataset(model, healthy(), out, { ...options, resume: true });
      assert.deepEqual(resumed.chunks, { size: 32, total: 7, written: 5, skipped: 2 });
      assert.equal(resumed.itemsWritten, n - 64);
      const expected = storeFiles(reference);
      const actual = storeFiles(out);
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
      for (const [file, bytes] of expected) assert.ok(bytes.equals(actual.get(file)!), `${file} differs`);
    } finally {
      await model.release();
    }
  });
});

describe('neurotap verify', () => {
  it('reports a corrupt chunk file and a missing chunk by number', async () => {
    const out = join(tmp, 'reference.zarr');
    const chunkFile = join(out, 'fc1', 'c.3.0');
    const original = readFileSync(chunkFile);
    const flipped = Buffer.from(original);
    flipped[5] ^= 1;
    writeFileSync(chunkFile, flipped);
    const record = join(out, '.neurotap', 'chunks', '7.json');
    const recordBytes = readFileSync(record);
    unlinkSync(record);
    try {
      const run = await cli('verify', out, '--json');
      assert.equal(run.code, 2);
      const report = JSON.parse(run.stdout).error.details.report;
      assert.deepEqual(report.missingChunks, [7]);
      assert.deepEqual(report.badFiles, [{ chunk: 3, file: 'fc1/c.3.0', problem: 'checksum' }]);
      const text = await cli('verify', out);
      assert.match(text.stdout, /missing chunks: 7/);
      assert.match(text.stderr, /error\[E_BAD_FILE\]/);
    } finally {
      writeFileSync(chunkFile, original);
      writeFileSync(record, recordBytes);
    }
    assert.equal((await cli('verify', out)).code, 0);
  });

  it('refuses to resume a store of another job, naming the field', async () => {
    const reference = join(tmp, 'reference.zarr');
    for (const other of [
      ['--layers', 'fc1'],
      ['--chunk-size', '48'],
    ]) {
      const run = await cli(...args(reference), ...other, '--resume', '--json');
      assert.equal(run.code, 2, other.join(' '));
      const error = JSON.parse(run.stdout).error;
      assert.equal(error.code, 'E_OUTPUT_PATH');
      assert.equal(error.details.field, 'options');
      if (other[0] === '--chunk-size') {
        assert.deepEqual(
          [error.details.path, error.details.existing, error.details.expected],
          ['options.chunkSize', 24, 48],
        );
        assert.match(error.message, /options\.chunkSize is 24 in the store and 48 in this run/);
      } else
        assert.match(
          error.message,
          /options\.layers is \["conv1","fc1","fc2"\] in the store and \["conv1","fc1","fc2","fc1"\] in this run/,
        );
    }
    // Left out, the chunk size is this job's default (all 2400 items: conv1 at 2 KiB per item is under 8 MiB), not the store's 24.
    const defaulted = await cli(
      ...args(reference).filter((a, i, all) => a !== '--chunk-size' && all[i - 1] !== '--chunk-size'),
      '--resume',
      '--json',
    );
    const error = JSON.parse(defaulted.stdout).error;
    assert.deepEqual([error.details.path, error.details.expected], ['options.chunkSize', 2400]);
  });

  it('says what is not a store', async () => {
    const run = await cli('verify', tmp, '--json');
    assert.equal(JSON.parse(run.stdout).error.code, 'E_BAD_FILE');
  });
});
