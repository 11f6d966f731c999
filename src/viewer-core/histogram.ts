/**
 * Histograms and top units: the per-value numbers the viewer and the report show next to the pictures.
 *
 * ```ts
 * const h = histogram(values, summary.min, summary.max);
 * topUnits(values, 0, 64, 5); // the five largest of the first 64 elements, largest first
 * ```
 */
export interface Histogram {
  readonly lo: number;
  readonly hi: number;
  /** Counts of equal-width bins from lo to hi; the last bin includes hi. */
  readonly counts: number[];
}

export const DEFAULT_BINS = 40;

/** Counts of the finite values in equal-width bins over [lo, hi] (one bin when lo == hi). */
export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins = DEFAULT_BINS): Histogram {
  const finite = Number.isFinite(lo) && Number.isFinite(hi);
  const count = finite && hi > lo ? bins : 1;
  const counts = new Array<number>(count).fill(0);
  if (!finite) return { lo: 0, hi: 0, counts };
  const width = (hi - lo) / count;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue; // NaN and out-of-range values
    counts[width > 0 ? Math.min(count - 1, Math.floor((v - lo) / width)) : 0]++;
  }
  return { lo, hi, counts };
}

/** The value range of bin i. */
export function binRange(h: Histogram, i: number): [number, number] {
  const width = (h.hi - h.lo) / h.counts.length;
  return [h.lo + i * width, h.lo + (i + 1) * width];
}

export interface Unit {
  /** Index within the slice, e.g. the unit number of a linear layer. */
  readonly index: number;
  readonly value: number;
}

/** The k largest elements of values[start, start + count), largest first (NaNs ignored). */
export function topUnits(values: ArrayLike<number>, start: number, count: number, k: number): Unit[] {
  const top: Unit[] = [];
  for (let i = 0; i < count; i++) {
    const value = values[start + i];
    if (value !== value || (top.length === k && value <= top[k - 1].value)) continue;
    let at = top.length;
    while (at > 0 && top[at - 1].value < value) at--;
    top.splice(at, 0, { index: i, value });
    if (top.length > k) top.pop();
  }
  return top;
}

export interface HistogramBar {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly count: number;
  /** The value range of the bin. */
  readonly lo: number;
  readonly hi: number;
}

/** The histogram as bars in a width x height box (counts on a square-root scale, so rare bins stay visible). */
export function histogramBars(h: Histogram, width: number, height: number): HistogramBar[] {
  const most = Math.max(1, ...h.counts);
  const barWidth = width / h.counts.length;
  return h.counts.map((count, i) => {
    const barHeight = count === 0 ? 0 : Math.max(1, Math.round((Math.sqrt(count) / Math.sqrt(most)) * height));
    const [lo, hi] = binRange(h, i);
    return { x: i * barWidth, y: height - barHeight, width: barWidth, height: barHeight, count, lo, hi };
  });
}
