/**
 * Numbers as the viewer and the report print them: four significant digits for statistics,
 * the shortest text that reads back as the same float32 for exact values.
 */

/** Four significant digits, exponent form for tiny or huge magnitudes. */
export function formatStat(x: number): string {
  if (x !== x) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  return abs >= 1e5 || abs < 1e-3 ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

/** The shortest decimal that rounds to the same float32, e.g. 0.1 rather than 0.10000000149011612. */
export function formatExact(v: number): string {
  if (!Number.isFinite(v)) return formatStat(v);
  const f = Math.fround(v);
  if (f !== v) return String(v); // not a float32: print the double
  for (let digits = 1; digits < 17; digits++) {
    const text = v.toPrecision(digits);
    if (Math.fround(Number(text)) === f) return String(Number(text));
  }
  return String(v);
}

export function formatPercent(fraction: number): string {
  return fraction === fraction ? `${(fraction * 100).toFixed(1)}%` : '–';
}

export function formatDims(dims: readonly (number | string)[] | null | undefined): string {
  return dims ? `[${dims.join(', ')}]` : '?';
}
