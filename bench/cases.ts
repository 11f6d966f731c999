/** Bench cases on the small committed models. */
import { join } from 'node:path';
import { loadModel } from '../src/node/index.js';

/** Median, min and max of a case's timings (ms). */
export interface Stats {
  median: number;
  min: number;
  max: number;
}

/** One printed row of the benchmark: our timing against its baseline, and the ratio. */
export interface CaseResult {
  case: string;
  ours: Stats;
  baseline: string;
  baselineMs: number | null;
  ratio: number | null;
  target: string;
  note?: string;
}

/**
 * The bench's clock in ms: wall time, or with BENCH_CLOCK=cpu the process's CPU time (all threads),
 * which a shared machine's load barely moves (use it with BENCH_THREADS=1: idle ONNX Runtime
 * threads spin, and that counts as CPU).
 */
export const clockMs = (): number => {
  if (process.env.BENCH_CLOCK !== 'cpu') return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export const stats = (v: number[]): Stats => {
  const s = [...v].sort((a, b) => a - b);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};

export async function loadDigitsBatch(root: string, batch: number, threads = 2) {
  const model = await loadModel(join(root, 'fixtures', 'digits-cnn.onnx'), { threads });
  const x = { data: Float32Array.from({ length: batch * 64 }, (_, i) => (i % 17) / 16), dims: [batch, 1, 8, 8] };
  return { model, feeds: { image: x } };
}

/**
 * RSS after warm-up and after `count` more captures: a leak would make the second grow. The allocator
 * and ONNX Runtime's arena settle over the first ~2,000 captures (RSS 129 → 171 MB, then flat up to
 * 5,000 with the V8 heap flat throughout: measured), so that is the warm-up.
 */
export async function measureRepeatedCaptures(root: string, count: number, threads: number) {
  const { model, feeds } = await loadDigitsBatch(root, 16, threads);
  const rss = () => process.memoryUsage().rss / 2 ** 20;
  for (let i = 0; i < 2000; i++) await model.capture(feeds);
  global.gc?.();
  const afterWarmupMB = rss();
  for (let i = 0; i < count; i++) await model.capture(feeds);
  global.gc?.();
  return { afterWarmupMB, endMB: rss() };
}
