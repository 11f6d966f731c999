/**
 * The Zarr data-set writer at disk speed: chunk files put straight from the batches' memory hold
 * exactly the bytes zarrita writes (fill of the last chunk included), records carry CRC-32s (older
 * SHA-256 records still verify), `--resume` checks every recorded chunk's files and redoes the
 * torn ones, the local store keeps its files open only until the group commit, and worker threads
 * (`--workers`) write the same bytes as the model in the main thread. The CLI cases run dist/
 * (built by `npm test`).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as zarr from 'zarrita';
import { arraySource, type DataSource, verifyStore, writeDataset } from '../src/node/dataset/index.js';
import { chunkParts } from '../src/node/dataset/chunk-bytes.js';
import { sha256 } from '../src/node/dataset/checksums.js';
import { FileDatasetStore } from '../src/node/dataset/file-store.js';
import { isNeurotapError, loadModel, type NeurotapModel } from '../src/node/index.js';
import type { DType, TypedArray } from '../src/tensor.js';
import { cli, digitsLike, DIGITS_CNN, storeFiles, writeDigitsNpy } from './helpers/dataset.js';

let tmp: string;
let model: NeurotapModel;
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-writer-'));
  model = await loadModel(DIGITS_CNN, { threads: 1 });
});
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await model.release();
});

const concat = (parts: Uint8Array[]) =>
  Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

describe('chunk files', () => {
  const cases: [DType, zarr.DataType, (n: number) => TypedArray, number | boolean][] = [
    ['float32', 'float32', (n) => Float32Array.from({ length: n }, (_, i) => i / 3), Number.NaN],
    ['float64', 'float64', (n) => Float64Array.from({ length: n }, (_, i) => -i / 7), Number.NaN],
    ['int64', 'int64', (n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i) - 5n), 0],
    ['int32', 'int32', (n) => Int32Array.from({ length: n }, (_, i) => i * 1000 - 7), 0],
    ['bool', 'bool', (n) => Uint8Array.from({ length: n }, (_, i) => i % 2), false],
  ];
  for (const [dtype, zarrType, make, fillValue] of cases) {
    it(`are the bytes zarrita writes for ${dtype}, a partial last chunk filled`, async () => {
      // 7 items of 3 values in chunks of 4: chunk 1 holds items 4..6 and one row of fill.
      const data = make(21);
      const memory = new Map<string, Uint8Array>();
      const arr = await zarr.create(zarr.root(memory).resolve('a'), {
        shape: [7, 3],
        chunkShape: [4, 3],
        dtype: zarrType,
        codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
        chunkSeparator: '.',
        fillValue: fillValue as never,
      });
      const values = dtype === 'bool' ? new zarr.BoolArray((data as Uint8Array).buffer) : data;
      await zarr.set(arr, null, { data: values, shape: [7, 3], stride: [3, 1] } as never);
      // Batches of 2 and 1 items make up chunk 1: the parts are their arrays and the fill.
      const parts = chunkParts([data.subarray(12, 18), data.subarray(18, 21)], dtype, [3], 4);
      assert.equal(parts.length, 3);
      assert.ok(concat(parts).equals(Buffer.from(memory.get('/a/c.1.0')!)), dtype);
      assert.ok(concat(chunkParts([data.subarray(0, 12)], dtype, [3], 4)).equals(Buffer.from(memory.get('/a/c.0.0')!)));
    });
  }
});

const options = { batchSize: 8, chunkSize: 24, layers: ['conv1', 'fc1'] };
const items = 100; // chunks [0, 24), ..., [96, 100): 5 chunks, the last one partial
const source = () => arraySource({ image: { type: 'float32', dims: [items, 1, 8, 8], data: digitsLike(items, 9) } });
const recordPath = (store: string, chunk: number) => join(store, '.neurotap', 'chunks', `${chunk}.json`);

function assertSameStore(actual: string, expected: string): void {
  const want = storeFiles(expected);
  const got = storeFiles(actual);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [file, bytes] of want) assert.ok(bytes.equals(got.get(file)!), `${file} differs`);
}

describe('completion records', () => {
  let reference: string;
  before(async () => {
    reference = join(tmp, 'reference.zarr');
    await writeDataset(model, source(), reference, options);
  });

  it('hold a CRC-32 of every file of the chunk', () => {
    const record = JSON.parse(readFileSync(recordPath(reference, 4), 'utf8'));
    assert.deepEqual(record.items, [96, 100]);
    assert.deepEqual(Object.keys(record.files), ['conv1/c.4.0.0.0', 'fc1/c.4.0', 'output_logits/c.4.0']);
    for (const hash of Object.values(record.files)) assert.match(hash as string, /^crc32:[0-9a-f]{8}$/);
  });

  it('--resume checks the recorded files: torn and lost ones are written again, identical', async () => {
    const out = join(tmp, 'torn.zarr');
    await writeDataset(model, source(), out, options);
    // What a crash before the group commit can leave: a record whose files are short or gone.
    truncateSync(join(out, 'fc1', 'c.1.0'), 100);
    rmSync(join(out, 'conv1', 'c.3.0.0.0'));
    const resumed = await writeDataset(model, source(), out, { ...options, resume: true });
    assert.deepEqual(resumed.chunks, { size: 24, total: 5, written: 2, skipped: 3 });
    assertSameStore(out, reference);
    assert.equal((await verifyStore(out)).ok, true);
  });

  it('of stores written before (SHA-256) still verify and are skipped by --resume', async () => {
    const out = join(tmp, 'older.zarr');
    await writeDataset(model, source(), out, options);
    const older = (store: string) => {
      for (let chunk = 0; chunk < 5; chunk++) {
        const record = JSON.parse(readFileSync(recordPath(store, chunk), 'utf8'));
        for (const file of Object.keys(record.files)) record.files[file] = sha256(readFileSync(join(store, file)));
        writeFileSync(recordPath(store, chunk), `${JSON.stringify(record, null, 1)}\n`);
      }
    };
    older(out);
    assert.equal((await verifyStore(out)).ok, true);
    rmSync(recordPath(out, 2));
    const resumed = await writeDataset(model, source(), out, { ...options, resume: true });
    assert.deepEqual(resumed.chunks, { size: 24, total: 5, written: 1, skipped: 4 });
    const record = JSON.parse(readFileSync(recordPath(out, 1), 'utf8'));
    assert.match(Object.values(record.files)[0] as string, /^[0-9a-f]{64}$/, 'a verified record is kept as it was');
    const flipped = readFileSync(join(out, 'fc1', 'c.0.0'));
    flipped[9] ^= 4;
    writeFileSync(join(out, 'fc1', 'c.0.0'), flipped);
    assert.deepEqual((await verifyStore(out)).badFiles, [{ chunk: 0, file: 'fc1/c.0.0', problem: 'checksum' }]);
  });
});

describe('group commit', () => {
  const openFiles = () => readdirSync('/proc/self/fd').length;

  it('keeps the files put open until sync, which flushes and closes them all', {
    skip: !existsSync('/proc/self/fd'),
  }, async () => {
    const store = new FileDatasetStore(join(tmp, 'commit.zarr'));
    const before = openFiles();
    for (let i = 0; i < 20; i++) await store.put(`a/c.${i}`, new Uint8Array([i]));
    assert.equal(openFiles() - before, 20, 'one descriptor per file not yet committed');
    assert.deepEqual(await store.get('a/c.7'), new Uint8Array([7]), 'readable before the commit');
    await store.sync();
    assert.equal(openFiles(), before);
    assert.deepEqual(await store.list('a/').then((k) => k.length), 20);
  });
});

describe('--workers N', () => {
  it('writes the same store with 2 worker threads as with the model in this thread', async () => {
    const one = join(tmp, 'workers-1.zarr');
    const two = join(tmp, 'workers-2.zarr');
    const all = { batchSize: 8, chunkSize: 24 }; // every leaf, 5 chunks, 13 batches spread over the workers
    const a = await writeDataset(model, source(), one, { ...all, workers: 1 });
    // A source that keeps what it returns (each batch its own whole array): the workers must get copies.
    const inner = source();
    const kept: Float32Array[] = [];
    const keeping: DataSource = {
      ...inner,
      read: async (start, end) => {
        const image = (await inner.read(start, end)).image as { data: Float32Array; dims: readonly number[] };
        kept.push(image.data.slice());
        return { image: { type: 'float32', dims: [...image.dims], data: kept[kept.length - 1] } };
      },
    };
    const b = await writeDataset(model, keeping, two, { ...all, workers: 2, modelPath: DIGITS_CNN });
    // Every array read is whole still (one transferred to a worker would read as length 0); the last batch has 4 items.
    assert.equal(kept.length, 14, 'the probe batch and 13 batches');
    assert.deepEqual(
      kept.map((a) => a.length),
      kept.map((_, i) => (i === kept.length - 1 ? 4 : 8) * 64),
    );
    assert.deepEqual(b.chunks, a.chunks);
    assert.equal(b.keys.length, 10);
    assertSameStore(two, one);
  });

  it('the CLI: --workers 2 and --workers 1 give byte-identical stores, and .npy files', async () => {
    const npy = join(tmp, 'items.npy');
    writeDigitsNpy(npy, 300);
    const run = (workers: string, out: string) =>
      cli('extract', DIGITS_CNN, '--inputs', npy, '--batch-size', '16', '--workers', workers, '--out', out, '--json');
    for (const [name, compare] of [
      ['s.zarr', assertSameStore],
      ['npy/', assertSameStore],
    ] as const) {
      const [one, two] = [join(tmp, `cli-1-${name}`), join(tmp, `cli-2-${name}`)];
      const [r1, r2] = [await run('1', one), await run('2', two)];
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(JSON.parse(r2.stdout).itemsWritten, 300);
      compare(two, one);
    }
    const bad = await cli(
      'extract',
      DIGITS_CNN,
      '--inputs',
      npy,
      '--workers',
      '0',
      '--out',
      join(tmp, 'x.zarr'),
      '--json',
    );
    assert.equal(bad.code, 2);
    assert.equal(JSON.parse(bad.stdout).error.code, 'E_BAD_ARGUMENT');
  });

  it("fails with a worker's error as the same typed error, and leaves no thread behind", async () => {
    const inner = source();
    // Batches from item 40 on are 7x7 images: the workers' sessions refuse them.
    const failing: DataSource = {
      ...inner,
      read: async (start, end) => {
        const feeds = await inner.read(start, end);
        if (start < 40) return feeds;
        const n = end - start;
        return { image: { type: 'float32', dims: [n, 1, 7, 7], data: new Float32Array(n * 49) } };
      },
    };
    await assert.rejects(writeDataset(model, failing, join(tmp, 'failing.zarr'), { ...options, workers: 2 }), (e) =>
      isNeurotapError(e, 'E_INPUT_SHAPE'),
    );
  });
});
