/**
 * Bench row: every leaf of the digits CNN for 100k items (BENCH_DISK_ITEMS) streamed into a Zarr
 * store on disk, as activation bytes per second against this disk's sequential write bandwidth:
 * `dd if=/dev/zero bs=8M conv=fdatasync` of the same number of bytes into the same directory,
 * interleaved with the extraction in the same run (medians of BENCH_DISK_ROUNDS). The extraction's
 * time includes starting its workers and its final group commit, so both sides end with the bytes
 * on the disk. The note gives capture alone (the same batches and workers, no store) against the
 * disk: where that is below 1, the model, not the writer, bounds the row.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { arraySource, extractDataset, writeDataset } from '../src/node/dataset/index.js';
import { WorkerPool } from '../src/node/dataset/worker-pool.js';
import { loadModel, type NeurotapModel } from '../src/node/index.js';
import type { DataSource } from '../src/dataset/types.js';
import { type CaseResult, stats } from './cases.js';

const ITEMS = Number(process.env.BENCH_DISK_ITEMS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_DISK_ROUNDS ?? 3);
const DIR = process.env.BENCH_DATASET_DIR ?? tmpdir();
const BATCH = 256;
const DD_BLOCK = 8 << 20;

function digitsLike(n: number): Float32Array {
  let state = 777;
  return Float32Array.from({ length: n * 64 }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) / 2 ** 24;
  });
}

function ddMs(dir: string, bytes: number): number {
  const out = join(dir, 'dd.bin');
  const t = performance.now();
  execFileSync(
    'dd',
    ['if=/dev/zero', `of=${out}`, `bs=${DD_BLOCK}`, `count=${Math.ceil(bytes / DD_BLOCK)}`, 'conv=fdatasync'],
    {
      stdio: 'ignore',
    },
  );
  const ms = performance.now() - t;
  rmSync(out, { force: true });
  return ms;
}

/** The same extraction with no store (the workers started once, outside the timing): what bounds the row from above. */
async function captureOnlyMs(model: NeurotapModel, source: DataSource, workers: number): Promise<number> {
  const pool = workers > 1 ? await WorkerPool.start(workers, { model: model.bytes, load: { threads: 1 } }) : undefined;
  try {
    const t = performance.now();
    for await (const batch of extractDataset(model, source, { batchSize: BATCH }, pool)) void batch;
    return performance.now() - t;
  } finally {
    await pool?.close();
  }
}

export async function diskBandwidthCase(root: string, workers = availableParallelism()): Promise<CaseResult> {
  const model = await loadModel(join(root, 'fixtures', 'digits-cnn.onnx'), { threads: 1 });
  const source = arraySource({ image: { type: 'float32', dims: [ITEMS, 1, 8, 8], data: digitsLike(ITEMS) } });
  const dir = mkdtempSync(join(DIR, 'neurotap-disk-'));
  const zarrMs: number[] = [];
  const dd: number[] = [];
  const capture: number[] = [];
  let bytes = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const out = join(dir, `run-${round}.zarr`);
      const t = performance.now();
      const result = await writeDataset(model, source, out, { batchSize: BATCH, workers });
      zarrMs.push(performance.now() - t);
      bytes = result.keys.reduce((n, k) => n + k.shape.reduce((a, b) => a * b, 1) * 4, 0);
      rmSync(out, { recursive: true, force: true });
      dd.push(ddMs(dir, bytes));
      capture.push(await captureOnlyMs(model, source, workers));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await model.release();
  }
  const ours = stats(zarrMs);
  const disk = stats(dd).median;
  const ceiling = stats(capture).median;
  const mbps = (ms: number) => `${(bytes / ms / 1e3).toFixed(0)} MB/s`;
  return {
    case: `dataset ${ITEMS / 1000}k digits → zarr on disk, every leaf (${(bytes / 2 ** 30).toFixed(2)} GiB), --workers ${workers}: ${mbps(ours.median)} vs dd ${mbps(disk)}`,
    ours,
    baseline: 'dd conv=fdatasync of the same bytes, same dir',
    baselineMs: disk,
    // Higher is better here: activation bytes/s over the disk's bytes/s.
    ratio: disk / ours.median,
    target: '≥ 0.5 (bytes/s ÷ disk)',
    note: `capture alone (no store) ${mbps(ceiling)} = ${(disk / ceiling).toFixed(2)}× the disk: ${disk / ceiling < 1 ? 'the model' : 'the disk'} bounds this row here; stores and dd under ${DIR} (BENCH_DATASET_DIR); ${ROUNDS} rounds interleaved (BENCH_DISK_ROUNDS)`,
  };
}
