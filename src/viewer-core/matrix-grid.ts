/**
 * Pictures of values as coloured cells: a grid of matrices (feature maps), one matrix
 * (a time x unit heatmap) or one wrapped row (a strip of units). Pure: RGBA bytes out, the same
 * in a browser canvas and in a PNG of the report, with the inverse mapping for hovering.
 */
import { colorTable, scalePosition, NAN_COLOR, type ColorScale } from './colors.js';

export interface Raster {
  readonly width: number;
  readonly height: number;
  /** Row-major RGBA bytes; transparent where nothing is drawn. */
  readonly rgba: Uint8ClampedArray;
}

/** `count` matrices of rows x cols, matrix m starting at element m * rows * cols; elements at or past `limit` are left blank. */
export interface MatrixGrid {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly limit: number;
  /** Pixel size of one matrix (cells scale up, or sample down when the matrix is larger). */
  readonly tileWidth: number;
  readonly tileHeight: number;
  /** Matrices per row of the picture, and the pixels between them. */
  readonly perRow: number;
  readonly gap: number;
}

export function gridSize(grid: MatrixGrid): { width: number; height: number } {
  const columns = Math.min(grid.count, grid.perRow);
  const lines = Math.ceil(grid.count / grid.perRow);
  return {
    width: columns * grid.tileWidth + (columns - 1) * grid.gap,
    height: lines * grid.tileHeight + (lines - 1) * grid.gap,
  };
}

/** The element (relative to the first matrix) drawn at pixel (x, y), or -1 for a gap or blank. */
export function gridIndexAt(grid: MatrixGrid, x: number, y: number): number {
  const step = [grid.tileWidth + grid.gap, grid.tileHeight + grid.gap];
  const [mx, my] = [Math.floor(x / step[0]), Math.floor(y / step[1])];
  const [ox, oy] = [x - mx * step[0], y - my * step[1]];
  if (x < 0 || y < 0 || mx >= grid.perRow || ox >= grid.tileWidth || oy >= grid.tileHeight) return -1;
  const matrix = my * grid.perRow + mx;
  if (matrix >= grid.count) return -1;
  const row = Math.floor((oy * grid.rows) / grid.tileHeight);
  const col = Math.floor((ox * grid.cols) / grid.tileWidth);
  const index = matrix * grid.rows * grid.cols + row * grid.cols + col;
  return index < grid.limit ? index : -1;
}

/** Paints values[start + i] for every element i of the grid, coloured by the scale. */
export function paintGrid(values: ArrayLike<number>, start: number, grid: MatrixGrid, scale: ColorScale): Raster {
  const { width, height } = gridSize(grid);
  const rgba = new Uint8ClampedArray(width * height * 4);
  const table = colorTable(scale);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const index = gridIndexAt(grid, x, y);
      if (index < 0) continue;
      const v = values[start + index];
      const at = (y * width + x) * 4;
      if (v !== v) rgba.set(NAN_COLOR, at);
      else rgba.set(table.subarray(...lutSlot(scalePosition(scale, v))), at);
      rgba[at + 3] = 255;
    }
  }
  return { width, height, rgba };
}

function lutSlot(position: number): [number, number] {
  const slot = Math.round(position * 255) * 3;
  return [slot, slot + 3];
}

/** Draws a frame of the given colour just inside the tile cell holding element `index`. */
export function outlineCell(raster: Raster, grid: MatrixGrid, index: number, rgb: readonly number[]): void {
  const cellW = grid.tileWidth / grid.cols;
  const cellH = grid.tileHeight / grid.rows;
  const col = index % grid.cols;
  const row = Math.floor(index / grid.cols) % grid.rows;
  const [x0, y0] = [Math.round(col * cellW), Math.round(row * cellH)];
  const [x1, y1] = [Math.round((col + 1) * cellW) - 1, Math.round((row + 1) * cellH) - 1];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const edge = x - x0 < 2 || x1 - x < 2 || y - y0 < 2 || y1 - y < 2;
      if (!edge) continue;
      const at = (y * raster.width + x) * 4;
      raster.rgba.set(rgb, at);
      raster.rgba[at + 3] = 255;
    }
  }
}
