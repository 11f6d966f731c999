/**
 * Bench case for data-set extraction: 5,000 digits-like inputs through the demo CNN into a Zarr
 * store (default chunk size, and one chunk per batch for reference), against plain inference
 * (`model.run`) over the same batches, in the same process with interleaved rounds; plus RSS
 * early in the run against RSS at its end (flat when memory is bounded by a chunk); and the disk
 * row (bench/dataset-disk.ts: 100k items against dd). Rows have the shape of bench/run.ts results.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arraySource, extractDataset, writeDataset } from '../src/node/dataset/index.js';
import { loadModel, type NeurotapModel } from '../src/node/index.js';
import { type CaseResult, stats } from './cases.js';
import { diskBandwidthCase } from './dataset-disk.js';

const ITEMS = 5000;
/** Where the stores go: the default temp directory, or e.g. /dev/shm to leave the disk out. */
const DIR = process.env.BENCH_DATASET_DIR ?? tmpdir();
const BATCH = 64;
const ROUNDS = Number(process.env.BENCH_DATASET_ROUNDS ?? 3);

/** Random digits-like images in [0, 1), seeded so every run sees the same data. */
function digitsLike(n: number): Float32Array {
  let state = 12345;
  return Float32Array.from({ length: n * 64 }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) / 2 ** 24;
  });
}

const rssMB = () => process.memoryUsage().rss / 2 ** 20;

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function plainRun(model: NeurotapModel, data: Float32Array): Promise<void> {
  for (let start = 0; start < ITEMS; start += BATCH) {
    const n = Math.min(BATCH, ITEMS - start);
    await model.run({ image: { data: data.subarray(start * 64, (start + n) * 64), dims: [n, 1, 8, 8] } });
  }
}

async function captureOnly(model: NeurotapModel, data: Float32Array): Promise<void> {
  const source = arraySource({ image: { type: 'float32', dims: [ITEMS, 1, 8, 8], data } });
  for await (const batch of extractDataset(model, source, { batchSize: BATCH })) void batch;
}

/**
 * One extraction into a fresh store (chunk size: the default unless given); `rss` gets RSS after
 * 10% of the items and at the end. Returns the chunk size used.
 */
async function toZarr(
  model: NeurotapModel,
  data: Float32Array,
  dir: string,
  reduce: 'none' | 'mean',
  options: { rss?: number[]; chunkSize?: number } = {},
): Promise<number> {
  const out = join(dir, `run-${Math.random().toString(36).slice(2)}.zarr`);
  const source = arraySource({ image: { type: 'float32', dims: [ITEMS, 1, 8, 8], data } });
  let early: number | undefined;
  const result = await writeDataset(model, source, out, {
    batchSize: BATCH,
    reduce,
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    onProgress: (p) => {
      if (early === undefined && p.items >= ITEMS / 10) early = rssMB();
    },
  });
  options.rss?.push(early ?? rssMB(), rssMB());
  rmSync(out, { recursive: true, force: true });
  return result.chunks.size;
}

export async function datasetCases(root: string, threads: number): Promise<CaseResult[]> {
  const model = await loadModel(join(root, 'fixtures', 'digits-cnn.onnx'), { threads });
  const data = digitsLike(ITEMS);
  const dir = mkdtempSync(join(DIR, 'neurotap-bench-'));
  const samples: Record<string, number[]> = { plain: [], capture: [], zarr: [], zarrMean: [], zarrPerBatch: [] };
  const rss: number[] = [];
  const chunk = { all: 0, mean: 0 };
  try {
    await plainRun(model, data);
    chunk.all = await toZarr(model, data, dir, 'none');
    chunk.mean = await toZarr(model, data, dir, 'mean');
    for (let round = 0; round < ROUNDS; round++) {
      samples.plain.push(await time(() => plainRun(model, data)));
      samples.capture.push(await time(() => captureOnly(model, data)));
      samples.zarr.push(await time(() => toZarr(model, data, dir, 'none', round === ROUNDS - 1 ? { rss } : {})));
      samples.zarrMean.push(await time(() => toZarr(model, data, dir, 'mean')));
      samples.zarrPerBatch.push(await time(() => toZarr(model, data, dir, 'none', { chunkSize: BATCH })));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await model.release();
  }
  const plain = stats(samples.plain).median;
  const perSecond = (ms: number) => `${((ITEMS / ms) * 1000).toFixed(0)} items/s`;
  const row = (name: string, s: number[], target: string): CaseResult => {
    const st = stats(s);
    return {
      case: `${name}: ${perSecond(st.median)} vs ${perSecond(plain)}`,
      ours: st,
      baseline: `plain model.run, ${(ITEMS / BATCH) | 0}+1 batches of ${BATCH}`,
      baselineMs: plain,
      ratio: st.median / plain,
      target,
    };
  };
  const [early, end] = rss;
  const disk = await diskBandwidthCase(root);
  return [
    disk,
    {
      ...row(
        `dataset ${ITEMS} digits → zarr, all 10 keys, chunks of ${chunk.all}`,
        samples.zarr,
        '≤ 1.11 (≥ 0.9× plain items/s)',
      ),
      note: `dataset stores written under ${DIR} (BENCH_DATASET_DIR)`,
    },
    row(
      `dataset ${ITEMS} digits → zarr, reduce mean, chunks of ${chunk.mean}`,
      samples.zarrMean,
      '≤ 1.11 (≥ 0.9× plain items/s)',
    ),
    row(
      `dataset ${ITEMS} digits → zarr, all 10 keys, chunks of ${BATCH} (one per batch)`,
      samples.zarrPerBatch,
      'reference: the chunk-size gain',
    ),
    row(`dataset ${ITEMS} digits, capture only (no store)`, samples.capture, 'reference: capture cost'),
    {
      case: `dataset → zarr: RSS ${early.toFixed(0)} MB at 10% → ${end.toFixed(0)} MB at end`,
      ours: { median: end, min: end, max: end },
      baseline: 'RSS after 10% of the items (MB)',
      baselineMs: early,
      ratio: end / early,
      target: '≤ 1.1',
    },
  ];
}
