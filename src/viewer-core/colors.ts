/**
 * Colour scales shared by the viewer and the report: viridis for values that are never negative
 * (post-ReLU maps), red-blue centred on zero for signed values, so that zero always looks the same.
 *
 * ```ts
 * const scale = scaleFor(-2, 5); // diverging, -5..5
 * const [r, g, b] = colorOf(scale, 1.5);
 * ```
 */
export interface ColorScale {
  readonly kind: 'sequential' | 'diverging';
  readonly lo: number;
  readonly hi: number;
}

export type Rgb = readonly [number, number, number];

function parseHex(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'].map(
  parseHex,
);
const RED_BLUE = [
  '#2166ac',
  '#4393c3',
  '#92c5de',
  '#d1e5f0',
  '#f7f7f7',
  '#fddbc7',
  '#f4a582',
  '#d6604d',
  '#b2182b',
].map(parseHex);
/** Not-a-number elements stand out in grey. */
export const NAN_COLOR: Rgb = [128, 128, 128];

/** The scale for values in [min, max]: diverging and symmetric as soon as any value is negative. */
export function scaleFor(min: number, max: number): ColorScale {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { kind: 'sequential', lo: 0, hi: 1 };
  if (min >= 0) return { kind: 'sequential', lo: min, hi: max };
  const bound = Math.max(Math.abs(min), Math.abs(max));
  return { kind: 'diverging', lo: -bound, hi: bound };
}

/** Position of v in the scale, clamped to [0, 1]; 0.5 when the scale has no width. */
export function scalePosition(scale: ColorScale, v: number): number {
  const span = scale.hi - scale.lo;
  if (!(span > 0)) return scale.kind === 'diverging' || v === 0 ? 0.5 : 1;
  return Math.min(1, Math.max(0, (v - scale.lo) / span));
}

/** Linear interpolation between the stops of a colour map, at t in [0, 1]. */
function interpolate(stops: readonly Rgb[], t: number): Rgb {
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export function colorOf(scale: ColorScale, v: number): Rgb {
  if (v !== v) return NAN_COLOR;
  return interpolate(scale.kind === 'diverging' ? RED_BLUE : VIRIDIS, scalePosition(scale, v));
}

/** A 256-entry RGB table for the scale: rasters look colours up instead of interpolating per element. */
export function colorTable(scale: ColorScale): Uint8ClampedArray {
  const table = new Uint8ClampedArray(256 * 3);
  const stops = scale.kind === 'diverging' ? RED_BLUE : VIRIDIS;
  for (let i = 0; i < 256; i++) table.set(interpolate(stops, i / 255), i * 3);
  return table;
}

/** CSS colour of a value, for HTML and SVG. */
export function cssColor(scale: ColorScale, v: number): string {
  const [r, g, b] = colorOf(scale, v).map(Math.round);
  return `rgb(${r}, ${g}, ${b})`;
}

/** A CSS linear-gradient that shows the scale from lo (left) to hi (right). */
export function cssGradient(scale: ColorScale): string {
  const stops = (scale.kind === 'diverging' ? RED_BLUE : VIRIDIS).map(([r, g, b]) => `rgb(${r}, ${g}, ${b})`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
