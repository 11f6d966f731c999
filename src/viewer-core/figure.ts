/**
 * The picture of one captured value, chosen by its shape: a grid of feature maps with a shared
 * colour scale, units as bars (few) or a wrapped heat strip (many) with the top units outlined,
 * or a time x unit heatmap. `indexAt` maps a pixel back to the element, for hovering.
 *
 * ```ts
 * const figure = drawFigure(layer.values, viewOf(layer.dims), scaleFor(layer.summary.min, layer.summary.max));
 * ctx.putImageData(new ImageData(figure.rgba, figure.width, figure.height), 0, 0);
 * ```
 */
import { scaleFor, type ColorScale } from './colors.js';
import { topUnits, type Unit } from './histogram.js';
import type { LayerView } from './layer-view.js';
import { gridIndexAt, outlineCell, paintGrid, type MatrixGrid, type Raster } from './matrix-grid.js';
import { paintBars } from './bars.js';

export interface FigureOptions {
  /** Widest picture in pixels (default 720). */
  maxWidth?: number;
  /** Feature maps drawn at most; the rest are counted in `total` (default 128). */
  maxMaps?: number;
  /** Units highlighted (default 5). */
  top?: number;
}

export interface Figure extends Raster {
  readonly scale: ColorScale;
  /** The element of sample 0 under pixel (x, y), or -1. */
  indexAt(x: number, y: number): number;
  /** Feature maps drawn, of `total` (both 1 for units and sequences). */
  readonly shown: number;
  readonly total: number;
  /** Largest units of sample 0 (units views only), largest first. */
  readonly top: Unit[];
}

const BAR_UNITS = 64;
const OUTLINE = [17, 17, 17];

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Pixels per cell for n cells in `room` pixels: an integer scale-up, or the whole room when they do not fit. */
function span(n: number, room: number, most: number): number {
  if (n > room) return room;
  return n * clamp(Math.floor(room / n), 1, most);
}

function mapsGrid(view: LayerView, maxWidth: number, maxMaps: number): MatrixGrid {
  const count = Math.min(view.channels, maxMaps);
  const side = Math.max(view.rows, view.cols);
  const zoom = side >= 56 ? 1 : Math.max(1, Math.floor(56 / side));
  const tileWidth = Math.min(maxWidth, view.cols * zoom);
  const tileHeight = Math.max(1, Math.round((view.rows * zoom * tileWidth) / (view.cols * zoom)));
  const gap = 3;
  const perRow = clamp(Math.floor((maxWidth + gap) / (tileWidth + gap)), 1, count);
  return {
    count,
    rows: view.rows,
    cols: view.cols,
    limit: count * view.rows * view.cols,
    tileWidth,
    tileHeight,
    perRow,
    gap,
  };
}

function sequenceGrid(view: LayerView, maxWidth: number): MatrixGrid {
  const tileWidth = span(view.cols, maxWidth, 16);
  const tileHeight = span(view.rows, Math.max(240, Math.min(480, view.rows)), 16);
  return {
    count: 1,
    rows: view.rows,
    cols: view.cols,
    limit: view.sampleSize,
    tileWidth,
    tileHeight,
    perRow: 1,
    gap: 0,
  };
}

/** Units wrapped into rows: at least 64 a row, more for very wide layers so the strip stays short. */
function stripGrid(units: number, maxWidth: number): MatrixGrid {
  const wrap = clamp(Math.ceil(Math.sqrt(4 * units)), Math.min(units, BAR_UNITS), maxWidth);
  const rows = Math.ceil(units / wrap);
  const cell = clamp(Math.floor(maxWidth / wrap), 1, 16);
  return {
    count: 1,
    rows,
    cols: wrap,
    limit: units,
    tileWidth: wrap * cell,
    tileHeight: rows * cell,
    perRow: 1,
    gap: 0,
  };
}

function fromGrid(values: ArrayLike<number>, grid: MatrixGrid, scale: ColorScale, total: number, top: Unit[]): Figure {
  const raster = paintGrid(values, 0, grid, scale);
  for (const unit of top) outlineCell(raster, grid, unit.index, OUTLINE);
  return { ...raster, scale, indexAt: (x, y) => gridIndexAt(grid, x, y), shown: grid.count, total, top };
}

/** The figure for sample 0 of a value; the colour scale spans the whole batch unless one is given. */
export function drawFigure(
  values: ArrayLike<number>,
  view: LayerView,
  scale: ColorScale,
  options: FigureOptions = {},
): Figure {
  const maxWidth = options.maxWidth ?? 720;
  if (view.kind === 'maps')
    return fromGrid(values, mapsGrid(view, maxWidth, options.maxMaps ?? 128), scale, view.channels, []);
  if (view.kind === 'sequence') return fromGrid(values, sequenceGrid(view, maxWidth), scale, 1, []);
  const top = topUnits(values, 0, view.cols, options.top ?? 5);
  if (view.cols > BAR_UNITS) return fromGrid(values, stripGrid(view.cols, maxWidth), scale, 1, top);
  const bars = paintBars(
    values,
    view.cols,
    scale,
    maxWidth,
    top.map((u) => u.index),
  );
  return { ...bars, scale, shown: 1, total: 1, top };
}

/** The figure's colour scale for a value with this summary. */
export function figureScale(summary: { min: number; max: number }): ColorScale {
  return scaleFor(summary.min, summary.max);
}
