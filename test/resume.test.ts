/**
 * Resume and integrity: a real `neurotap extract` child killed with SIGKILL mid-run, then
 * resumed, gives a store identical byte for byte to an uninterrupted run; `verify` finds missing
 * and corrupt chunks; a resume with other options is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, cli, DIGITS_CNN, ROOT, storeFiles, writeDigitsNpy } from './helpers/dataset.js';

let tmp: string;
let npy: string;
const ITEMS = 2400;
const args = (out: string) => ['extract', DIGITS_CNN, '--inputs', npy, '--batch-size', '8', '--layers', 'conv1,fc1,fc2', '--out', out, '--threads', '1'];

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
    const done = await killMidRun(out, 30);
    const total = ITEMS / 8;
    assert.ok(done >= 30 && done < total, `killed after ${done} of ${total} chunks`);
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
    const run = await cli(...args(join(tmp, 'reference.zarr')), '--layers', 'fc1', '--resume', '--json');
    assert.equal(run.code, 2);
    const error = JSON.parse(run.stdout).error;
    assert.equal(error.code, 'E_OUTPUT_PATH');
    assert.equal(error.details.field, 'options');
  });

  it('says what is not a store', async () => {
    const run = await cli('verify', tmp, '--json');
    assert.equal(JSON.parse(run.stdout).error.code, 'E_BAD_FILE');
  });
});
