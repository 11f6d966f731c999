/**
 * Units of a small linear layer as bars from a zero line, coloured by the layer's scale, the top
 * units framed in black.
 */
import { colorOf, type ColorScale } from './colors.js';
import type { Raster } from './matrix-grid.js';

export const BAR_HEIGHT = 140;
const AXIS = [160, 160, 160];
const FRAME = [17, 17, 17];

export interface Bars extends Raster {
  indexAt(x: number, y: number): number;
}

function fill(raster: Raster, x0: number, x1: number, y0: number, y1: number, rgb: readonly number[]): void {
  for (let y = Math.max(0, y0); y < Math.min(raster.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(raster.width, x1); x++) {
      const at = (y * raster.width + x) * 4;
      raster.rgba.set(rgb, at);
      raster.rgba[at + 3] = 255;
    }
  }
}

/** Bars for values[0, units), `highlight` framed; bars rise from zero, so signed layers get bars both ways. */
export function paintBars(
  values: ArrayLike<number>,
  units: number,
  scale: ColorScale,
  maxWidth: number,
  highlight: readonly number[],
): Bars {
  const barWidth = Math.min(40, Math.max(4, Math.floor(maxWidth / units)));
  const width = barWidth * units;
  const height = BAR_HEIGHT;
  const raster: Raster = { width, height, rgba: new Uint8ClampedArray(width * height * 4) };
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < units; i++)
    if (values[i] === values[i]) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
  const pixels = (height - 4) / (hi - lo || 1);
  const zero = 2 + Math.round(hi * pixels);
  for (let i = 0; i < units; i++) {
    const v = values[i] === values[i] ? values[i] : 0;
    const top = zero - Math.round(Math.max(v, 0) * pixels);
    const bottom = zero - Math.round(Math.min(v, 0) * pixels);
    const [x0, x1] = [i * barWidth + 1, (i + 1) * barWidth - 1];
    if (highlight.includes(i)) fill(raster, x0 - 1, x1 + 1, top - 2, Math.max(bottom, top + 1) + 2, FRAME);
    fill(
      raster,
      x0 + (highlight.includes(i) ? 1 : 0),
      x1 - (highlight.includes(i) ? 1 : 0),
      top,
      Math.max(bottom, top + 1),
      colorOf(scale, v),
    );
  }
  fill(raster, 0, width, zero, zero + 1, AXIS);
  return {
    ...raster,
    indexAt: (x, y) => (x >= 0 && x < width && y >= 0 && y < height ? Math.floor(x / barWidth) : -1),
  };
}
