/**
 * Data-set extraction: batches equal one big capture, every kind of source gives the same items,
 * every store format reads back to the captured values, and the CLI wires it together.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as zarr from 'zarrita';
import {
  arraySource,
  defaultChunkSize,
  extractDataset,
  openDataSource,
  shardChunks,
  verifyStore,
  writeDataset,
  type DatasetManifest,
} from '../src/node/dataset/index.js';
import { AtomicFileStore } from '../src/node/dataset/zarr-store.js';
import { encodeNpy, parseNpy } from '../src/formats/npy.js';
import { encodeNpz } from '../src/formats/npz.js';
import { parseSafetensors } from '../src/formats/safetensors.js';
import { isNeurotapError, loadModel, type NeurotapModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { ensureBuilt } from './helpers/cli.js';
import { cli, digitsLike, DIGITS_CNN, ROOT, tokenModelBytes, writeDigitsNpy } from './helpers/dataset.js';

let tmp: string;
let model: NeurotapModel;
const N = 70;
const data = digitsLike(N);
const image = { type: 'float32' as const, dims: [N, 1, 8, 8], data };

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-dataset-'));
  model = await loadModel(DIGITS_CNN, { threads: 1 });
  ensureBuilt();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const f32 = (t: { data: unknown }) => Array.from(t.data as Float32Array);

describe('extractDataset', () => {
  it('yields batches that equal one capture of every item, sample axis first', async () => {
    const whole = await model.capture({ image }, { layers: ['conv2', 'fc1'] });
    const seen: number[] = [];
    for await (const batch of extractDataset(model, arraySource({ image }), {
      batchSize: 16,
      layers: ['conv2', 'fc1'],
    })) {
      seen.push(batch.batchIndex);
      assert.equal(batch.chunk, batch.batchIndex, 'a chunk is one batch by default');
      assert.equal(batch.itemIds[0], String(batch.start));
      for (const key of ['conv2', 'fc1']) {
        const t = batch.activations.get(key)!;
        const row = t.data.length / t.dims[0];
        assert.deepEqual(
          f32(t),
          f32(whole.get(key)!).slice(batch.start * row, (batch.start + t.dims[0]) * row),
          `${key} of batch ${batch.batchIndex}`,
        );
      }
      assert.ok(batch.activations.has('output:logits'));
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });

  it('splits chunks into disjoint contiguous shards that cover them all', () => {
    const shards = [0, 1, 2].map((index) => shardChunks(10, { index, count: 3 }));
    assert.deepEqual(shards, [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8, 9],
    ]);
  });

  it('shards and skips whole chunks of several batches', async () => {
    const seen: [number, number, number][] = [];
    // 70 items in chunks of 32: [0, 32), [32, 64), [64, 70); shard 1/2 owns chunks 1 and 2.
    for await (const b of extractDataset(model, arraySource({ image }), {
      batchSize: 16,
      chunkSize: 32,
      shard: { index: 1, count: 2 },
      layers: ['fc1'],
    })) {
      seen.push([b.chunk, b.batchIndex, b.itemIds.length]);
    }
    assert.deepEqual(seen, [
      [1, 2, 16],
      [1, 3, 16],
      [2, 4, 6],
    ]);
    const skipped = [];
    for await (const b of extractDataset(model, arraySource({ image }), {
      batchSize: 16,
      chunkSize: 32,
      skip: (c) => c !== 0,
      layers: ['fc1'],
    }))
      skipped.push(b.start);
    assert.deepEqual(skipped, [0, 16]);
    for (const chunkSize of [24, 8, 0]) {
      await assert.rejects(
        extractDataset(model, arraySource({ image }), { batchSize: 16, chunkSize }).next(),
        (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
        String(chunkSize),
      );
    }
  });

  it('moves the batch axis of an LSTM h_n ([layers, N, H]) to the front', async () => {
    const rnn = await loadModel(join(ROOT, 'fixtures', 'rnn', 'model.onnx'));
    const x = { type: 'float32' as const, dims: [6, 5, 8], data: digitsLike(6).subarray(0, 240) };
    const whole = await rnn.capture({ x }, { layers: ['lstm'] });
    const hn = whole.get('lstm#1#0')!; // [1, 6, 32]
    for await (const batch of extractDataset(rnn, arraySource({ x }), { batchSize: 4, layers: ['lstm'] })) {
      const t = batch.activations.get('lstm#1#0')!;
      assert.deepEqual(t.dims, [batch.itemIds.length, 1, 32]);
      assert.deepEqual(f32(t), f32(hn).slice(batch.start * 32, (batch.start + batch.itemIds.length) * 32));
      assert.equal(batch.layout.keys.find((k) => k.key === 'lstm#1#0')!.sampleAxis, 1);
    }
  });
});

describe('data sources', () => {
  const first = async (path: string, m: NeurotapModel = model) => {
    const source = await openDataSource(m, path, { image: () => ({ channels: 1, size: [8, 8] }) });
    try {
      return { source, feeds: await source.read(0, Math.min(3, source.count)) };
    } finally {
      await source.close?.();
    }
  };

  it('reads .npy rows, a directory, a glob and a list file to the same items', async () => {
    const stacked = join(tmp, 'digits.npy');
    writeDigitsNpy(stacked, 3);
    const dir = join(tmp, 'items');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const rows = parseNpy(readFileSync(stacked));
    const names = ['a.npy', 'b.npy', 'sub/c.npy'];
    names.forEach((name, i) => writeFileSync(join(dir, name), Buffer.from(encodeRow(rows, i))));
    writeFileSync(join(tmp, 'list.txt'), `# items\n${names.map((n) => `items/${n}`).join('\n')}\n`);
    const expected = f32((await first(stacked)).feeds.image);
    for (const path of [dir, join(tmp, 'items', '**', '*.npy'), join(tmp, 'list.txt')]) {
      const { source, feeds } = await first(path);
      assert.equal(source.count, 3, path);
      assert.deepEqual(f32(feeds.image), expected, path);
    }
    assert.deepEqual((await first(dir)).source.id(2), 'sub/c.npy');
  });

  it('streams rows of a big-endian .npy through the same parser as whole files', async () => {
    const little = join(tmp, 'little.npy');
    writeDigitsNpy(little, 3);
    const bytes = new Uint8Array(readFileSync(little));
    const dataStart = bytes.indexOf(0x0a) + 1; // the header ends with a newline
    const big = bytes.slice();
    big[new TextDecoder('latin1').decode(bytes.subarray(0, dataStart)).indexOf("'<f4'") + 1] = '>'.charCodeAt(0);
    for (let i = dataStart; i < bytes.length; i += 4) big.set(bytes.subarray(i, i + 4).reverse(), i);
    writeFileSync(join(tmp, 'big.npy'), big);
    assert.deepEqual(f32((await first(join(tmp, 'big.npy'))).feeds.image), f32((await first(little)).feeds.image));
  });

  it('reads images and .npy items of the bundled digits alike (8-bit rounding aside)', async () => {
    const pngs = await first(join(ROOT, 'fixtures', 'digits', '*.png'));
    const npys = await first(join(ROOT, 'fixtures', 'digits', '*.npy'));
    assert.equal(pngs.source.count, 10);
    assert.equal(pngs.source.id(0), `${join(ROOT, 'fixtures', 'digits')}/digit-0.png`);
    const a = f32(pngs.feeds.image);
    const b = f32(npys.feeds.image);
    assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1 / 255 + 1e-6));
  });

  it('reads .npz arrays named after the inputs, float64 converted to float32', async () => {
    const path = join(tmp, 'set.npz');
    writeFileSync(
      path,
      encodeNpz([['image', { type: 'float64', dims: [4, 1, 8, 8], data: Float64Array.from(digitsLike(4)) }]]),
    );
    const { source, feeds } = await first(path);
    assert.equal(source.count, 4);
    assert.equal(feeds.image.type, 'float32');
  });

  it('reads .jsonl token ids, padded to the longest line, with ids from the lines', async () => {
    const tokens = await loadModel(tokenModelBytes());
    const path = join(tmp, 'tokens.jsonl');
    writeFileSync(path, '[1, 2, 3]\n\n{"id": "doc-b", "input_ids": [4, 5]}\r\n[6]');
    const { source, feeds } = await first(path, tokens);
    assert.deepEqual([source.count, source.id(0), source.id(1)], [3, '0', 'doc-b']);
    assert.deepEqual(feeds.input_ids.dims, [3, 3]);
    assert.deepEqual(Array.from(feeds.input_ids.data as BigInt64Array, Number), [1, 2, 3, 4, 5, 0, 6, 0, 0]);
    const out = join(tmp, 'tokens.zarr');
    const all = await openDataSource(tokens, path);
    const result = await writeDataset(tokens, all, out, { batchSize: 2 });
    await all.close?.();
    assert.deepEqual(
      result.keys.map((k) => [k.key, k.shape]),
      [
        ['embed', [3, 3, 4]],
        ['proj', [3, 3, 3]],
        ['output:logits', [3, 3, 3]],
      ],
    );
  });

  it('names the problem: unknown kind, missing path, empty directory', async () => {
    await assert.rejects(first(join(tmp, 'x.csv')), (e) => isNeurotapError(e, 'E_FILE_NOT_FOUND'));
    writeFileSync(join(tmp, 'x.csv'), '1,2');
    await assert.rejects(first(join(tmp, 'x.csv')), (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'));
    mkdirSync(join(tmp, 'empty'));
    await assert.rejects(first(join(tmp, 'empty')), (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'));
  });
});

/** Row i of an [n, 1, 8, 8] tensor as a one-item .npy file. */
function encodeRow(rows: HostTensor, i: number): Uint8Array {
  return encodeNpy({
    type: 'float32',
    dims: [1, 1, 8, 8],
    data: (rows.data as Float32Array).slice(i * 64, i * 64 + 64),
  });
}

describe('stores', () => {
  const layers = ['conv1', 'fc1'];
  let whole: Map<string, number[]>;
  before(async () => {
    const acts = await model.capture({ image }, { layers });
    whole = new Map([...acts].map(([k, t]) => [k, f32(t)]));
    whole.set('output:logits', f32(acts.outputs.logits));
  });

  it('writes Zarr v3 that zarrita reads back to the captured values, with a manifest', async () => {
    const out = join(tmp, 'acts.zarr');
    const result = await writeDataset(model, arraySource({ image }), out, {
      batchSize: 16,
      chunkSize: 32,
      layers,
      modelFile: 'digits-cnn.onnx',
    });
    assert.deepEqual(result.chunks, { size: 32, total: 3, written: 3, skipped: 0 });
    const store = new AtomicFileStore(out);
    for (const [key, values] of whole) {
      const array = result.keys.find((k) => k.key === key)!.array;
      const arr = await zarr.open(zarr.root(store).resolve(array), { kind: 'array' });
      assert.deepEqual(arr.chunks[0], 32);
      assert.deepEqual(Array.from((await zarr.get(arr)).data as Float32Array), values, key);
    }
    const manifest: DatasetManifest = JSON.parse(readFileSync(join(out, '.neurotap', 'manifest.json'), 'utf8'));
    assert.equal(manifest.model.file, 'digits-cnn.onnx');
    assert.match(manifest.model.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      manifest.keys.map((k) => k.shape),
      [
        [N, 8, 8, 8],
        [N, 32],
        [N, 10],
      ],
    );
    assert.deepEqual(
      [
        manifest.items.ids.length,
        manifest.options.batchSize,
        manifest.options.chunkSize,
        manifest.chunks.size,
        manifest.chunks.count,
      ],
      [N, 16, 32, 32, 3],
    );
  });

  it('stores the same arrays whether a chunk holds one batch or several', async () => {
    // All leaves (ranks 2 to 4); chunks of 3 batches: [0, 24), [24, 48), [48, 70) ends with a batch of 6.
    const read = async (chunkSize: number) => {
      const out = join(tmp, `leaves-${chunkSize}.zarr`);
      const result = await writeDataset(model, arraySource({ image }), out, { batchSize: 8, chunkSize });
      const store = new AtomicFileStore(out);
      const arrays = new Map<string, number[]>();
      for (const k of result.keys)
        arrays.set(
          k.key,
          Array.from(
            (await zarr.get(await zarr.open(zarr.root(store).resolve(k.array), { kind: 'array' })))
              .data as Float32Array,
          ),
        );
      return { result, arrays };
    };
    const perBatch = await read(8);
    const gathered = await read(24);
    assert.deepEqual([perBatch.result.chunks.total, gathered.result.chunks.total], [9, 3]);
    assert.equal(gathered.arrays.size, 10);
    const acts = await model.capture({ image });
    for (const [key, values] of gathered.arrays) {
      assert.deepEqual(values, perBatch.arrays.get(key), key);
      assert.deepEqual(values, f32(key.startsWith('output:') ? acts.outputs[key.slice(7)] : acts.get(key)!), key);
    }
    assert.equal((await verifyStore(join(tmp, 'leaves-24.zarr'))).ok, true);
  });

  it('picks the default chunk size: the largest key at 8 MiB or more, at most 4096 items and the data set', async () => {
    assert.deepEqual(
      [
        defaultChunkSize(4096, 5000, 64), // digits conv2 (16x8x8 float32): 2048 items make 8 MiB
        defaultChunkSize(2048, 5000, 48), // conv1 alone needs 4096: at most 4096 in whole batches, 85 x 48
        defaultChunkSize(128, 5000, 64), // fc1 alone would need 65536: capped at 4096
        defaultChunkSize(128, 1000, 64), // ... and at the batches the data set has (16)
        defaultChunkSize(64 * 112 * 112 * 4, 10_000, 8), // a ResNet stem: one batch is already more than 8 MiB
        defaultChunkSize(128, 10_000, 5000), // one batch larger than 4096 items
      ],
      [2048, 4080, 4096, 1024, 8, 5000],
    );
    const many = 2100;
    const out = join(tmp, 'default.zarr');
    const source = arraySource({ image: { type: 'float32', dims: [many, 1, 8, 8], data: digitsLike(many, 3) } });
    const result = await writeDataset(model, source, out, { batchSize: 64, layers: ['conv2', 'fc1'] });
    assert.deepEqual(result.chunks, { size: 2048, total: 2, written: 2, skipped: 0 });
    assert.equal(statSync(join(out, 'conv2', 'c.0.0.0.0')).size, 8 << 20);
    assert.equal(
      statSync(join(out, 'fc1', 'c.1.0')).size,
      2048 * 32 * 4,
      'the last chunk is stored whole (52 items and fill)',
    );
    const manifest: DatasetManifest = JSON.parse(readFileSync(join(out, '.neurotap', 'manifest.json'), 'utf8'));
    assert.deepEqual([manifest.options.chunkSize, manifest.chunks.size, manifest.chunks.count], [2048, 2048, 2]);
    const small = await writeDataset(model, arraySource({ image }), join(tmp, 'small.zarr'), {
      batchSize: 32,
      layers: ['fc1'],
    });
    assert.equal(small.chunks.size, 96, 'one chunk of whole batches covers the 70 items');
  });

  it('streams one .npy per key and a .safetensors file with the same values', async () => {
    const dir = `${join(tmp, 'npy')}/`;
    await writeDataset(model, arraySource({ image }), dir, { batchSize: 32, layers });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    for (const [key, values] of whole)
      assert.deepEqual(f32(parseNpy(readFileSync(join(dir, index[key])))), values, key);
    const file = join(tmp, 'acts.safetensors');
    await writeDataset(model, arraySource({ image }), file, { batchSize: 32, layers });
    const parsed = parseSafetensors(new Uint8Array(readFileSync(file)));
    for (const [key, values] of whole) assert.deepEqual(f32(parsed.tensors.get(key)!), values, key);
    assert.equal(JSON.parse(parsed.metadata.neurotap).items.count, N);
    assert.ok(!existsSync(`${file}.partial`));
  });

  it('refuses chunks, resume and shards outside Zarr, a bad chunk size, and a directory that is not a store', async () => {
    await assert.rejects(
      writeDataset(model, arraySource({ image }), join(tmp, 'x.safetensors'), { resume: true }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
    await assert.rejects(
      writeDataset(model, arraySource({ image }), join(tmp, 'x.safetensors'), { chunkSize: 64 }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
    await assert.rejects(
      writeDataset(model, arraySource({ image }), join(tmp, 'odd.zarr'), { batchSize: 16, chunkSize: 40 }),
      (e) =>
        isNeurotapError(e, 'E_BAD_ARGUMENT') &&
        /multiple of batchSize \(16\)/.test(e.message) &&
        /32 or 48/.test(e.hint ?? ''),
    );
    assert.ok(!existsSync(join(tmp, 'odd.zarr')), 'checked before anything is written');
    mkdirSync(join(tmp, 'busy.zarr'));
    writeFileSync(join(tmp, 'busy.zarr', 'notes.txt'), 'mine');
    await assert.rejects(writeDataset(model, arraySource({ image }), join(tmp, 'busy.zarr')), (e) =>
      isNeurotapError(e, 'E_OUTPUT_PATH'),
    );
    await assert.rejects(writeDataset(model, arraySource({ image }), join(tmp, 'x.npz')), (e) =>
      isNeurotapError(e, 'E_OUTPUT_PATH'),
    );
  });

  it('is readable from Python with numpy alone (scripts/read_store.py)', {
    skip: !hasNumpy() && 'no python3 with numpy',
  }, async () => {
    const out = join(tmp, 'acts.zarr');
    const summary = JSON.parse(
      execFileSync(python()!, [join(ROOT, 'scripts', 'read_store.py'), out, '--json'], { encoding: 'utf8' }),
    );
    for (const [key, values] of whole) {
      assert.deepEqual(summary.arrays[key].shape.slice(0, 1), [N]);
      const sum = values.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(summary.arrays[key].sum - sum) < 1e-3 * Math.max(1, Math.abs(sum)), key);
    }
  });
});

describe('neurotap extract --inputs', () => {
  it('writes a store and reports it as JSON', async () => {
    const npy = join(tmp, 'cli.npy');
    writeDigitsNpy(npy, 50);
    const run = await cli(
      'extract',
      DIGITS_CNN,
      '--inputs',
      npy,
      '--batch-size',
      '10',
      '--chunk-size',
      '20',
      '--layers',
      'fc1',
      '--out',
      join(tmp, 'cli.zarr'),
      '--json',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'no progress bar in a pipe');
    const out = JSON.parse(run.stdout);
    assert.deepEqual(
      [out.items, out.chunks, out.keys[0].shape],
      [50, { size: 20, total: 3, written: 3, skipped: 0 }, [50, 32]],
    );
    const text = await cli(
      'extract',
      DIGITS_CNN,
      '--inputs',
      npy,
      '--batch-size',
      '20',
      '--layers',
      'fc1',
      '--out',
      join(tmp, 'cli-default.zarr'),
    );
    assert.match(text.stdout, /wrote 1 of 1 chunks of 60 items to /);
  });

  it('rejects contradictory or missing flags with exit code 2', async () => {
    const npy = join(tmp, 'cli.npy');
    const y = join(tmp, 'y.zarr');
    for (const args of [
      ['--inputs', npy],
      ['--inputs', npy, '--input', npy, '--out', y],
      ['--resume', '--out', y],
      ['--chunk-size', '64', '--out', y],
      ['--inputs', npy, '--out', y, '--shard', '3/3'],
      ['--inputs', npy, '--out', y, '--batch-size', '16', '--chunk-size', '20'],
    ]) {
      const run = await cli('extract', DIGITS_CNN, ...args, '--json');
      assert.equal(run.code, 2, args.join(' '));
      assert.equal(JSON.parse(run.stdout).error.code, 'E_BAD_ARGUMENT', args.join(' '));
    }
  });
});

function python(): string | undefined {
  return ['/usr/bin/python3', 'python3'].find((p) => {
    try {
      execFileSync(p, ['-c', 'import numpy'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

function hasNumpy(): boolean {
  return python() !== undefined;
}
