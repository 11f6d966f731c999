/**
 * Per-key error metrics between two tensors of the same shape, computed in float64 after decoding
 * both sides (float16/bfloat16 bits, integers, bools) so that exports of different precision compare.
 *
 * ```ts
 * const m = compareTensors(a, b, { atol: 1e-4, rtol: 1e-3 });
 * m.sqnrDb; // 10·log10(Σb² / Σ(a−b)²); Infinity when a equals b
 * ```
 */
import { toFloat32 } from '../tensor-summary.js';
import type { HostTensor } from '../tensor.js';

export interface Tolerance {
  /** Absolute tolerance: an element is over when |a−b| > atol + rtol·|b|. */
  readonly atol: number;
  readonly rtol: number;
}

export interface TensorMetrics {
  /** max |a−b| over the finite pairs. */
  readonly maxAbs: number;
  /** max |a−b| / |b| over the finite pairs with b ≠ 0 (0 when there is none). */
  readonly maxRel: number;
  /** Cosine similarity of the flattened tensors (1 when both are all zeros). */
  readonly cosine: number;
  /** Signal (b) to error (a−b) power ratio in dB; Infinity when the finite values are equal. */
  readonly sqnrDb: number;
  /** Share of the elements over tolerance, a non-finite value on one side only included. */
  readonly overTolerance: number;
  readonly nanA: number;
  readonly nanB: number;
  readonly infA: number;
  readonly infB: number;
  /** Counts of |a−b| per decade (HISTOGRAM_DECADES), for the report's histograms; exact zeros first. */
  readonly errorHistogram: readonly number[];
}

/** Decades of |a−b| in the histogram: [0], [1e-12, 1e-11), … [1e1, ∞). */
export const HISTOGRAM_DECADES = { from: -12, to: 1 } as const;

/** Float64 values of any numeric tensor. */
export function valuesOf(t: HostTensor): Float32Array | Float64Array {
  return t.data instanceof Float64Array ? t.data : toFloat32(t);
}

function histogramBin(diff: number): number {
  if (diff === 0) return 0;
  const decade = Math.floor(Math.log10(diff));
  const clamped = Math.min(Math.max(decade, HISTOGRAM_DECADES.from), HISTOGRAM_DECADES.to);
  return 1 + clamped - HISTOGRAM_DECADES.from;
}

/** Metrics of `a` against the reference `b`; both hold the same number of elements. */
export function compareValues(
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  tol: Tolerance,
): TensorMetrics {
  const histogram = new Array<number>(2 + HISTOGRAM_DECADES.to - HISTOGRAM_DECADES.from).fill(0);
  let maxAbs = 0;
  let maxRel = 0;
  let dot = 0;
  let normA = 0;
  let normB = 0;
  let noise = 0;
  let over = 0;
  const counts = { nanA: 0, nanB: 0, infA: 0, infB: 0 };
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      countNonFinite(x, y, counts);
      // The same NaN or the same infinity on both sides is agreement, not error.
      if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) over++;
      continue;
    }
    const diff = Math.abs(x - y);
    histogram[histogramBin(diff)]++;
    if (diff > maxAbs) maxAbs = diff;
    if (y !== 0 && diff / Math.abs(y) > maxRel) maxRel = diff / Math.abs(y);
    if (diff > tol.atol + tol.rtol * Math.abs(y)) over++;
    dot += x * y;
    normA += x * x;
    normB += y * y;
    noise += diff * diff;
  }
  return {
    maxAbs,
    maxRel,
    cosine: cosineOf(dot, normA, normB),
    sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(normB / noise),
    overTolerance: a.length === 0 ? 0 : over / a.length,
    ...counts,
    errorHistogram: histogram,
  };
}

function countNonFinite(x: number, y: number, counts: { nanA: number; nanB: number; infA: number; infB: number }) {
  if (Number.isNaN(x)) counts.nanA++;
  else if (!Number.isFinite(x)) counts.infA++;
  if (Number.isNaN(y)) counts.nanB++;
  else if (!Number.isFinite(y)) counts.infB++;
}

function cosineOf(dot: number, normA: number, normB: number): number {
  if (normA === 0 && normB === 0) return 1;
  if (normA === 0 || normB === 0) return 0;
  return dot / Math.sqrt(normA * normB);
}
