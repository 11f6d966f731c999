/**
 * The transformer panel, for models with the hidden_states / attentions presets: the hidden
 * states as a layer × token heatmap of per-token L2 norms, and each layer's attention
 * probabilities as a row of query × key heatmaps, one per head (sample 0). Hover for exact values.
 */
import { cssGradient, scaleFor, type ColorScale } from '../src/viewer-core/colors.js';
import { formatExact, formatStat } from '../src/viewer-core/format.js';
import { gridIndexAt, paintGrid, type MatrixGrid } from '../src/viewer-core/matrix-grid.js';
import { headsLayout, normsLayout, type HeadGrid, type TokenNorms } from '../src/viewer-core/transformer-view.js';
import { el, sizedCanvas } from './dom.js';
import type { TransformerResult } from './protocol.js';
import { hoverCanvas } from './tooltip.js';

/** Shows the panel for this run's result; hidden when the model has no transformer presets. */
export function showTransformer(container: HTMLElement, result: TransformerResult | undefined, width: number): void {
  container.hidden = result === undefined;
  if (!result) return container.replaceChildren();
  const missing = result.notObservable.map((u) => el('li', {}, el('code', {}, u.key), ` ${u.reason}`));
  container.replaceChildren(
    el('h2', {}, 'Transformer'),
    result.norms ? normsBlock(result.norms, width) : '',
    result.heads.length ? el('h3', {}, 'Attention heads (query × key, probabilities 0 … 1)') : '',
    ...result.heads.map((grid) => headsBlock(grid, width)),
    missing.length ? el('ul', { class: 'not-observable' }, ...missing) : '',
  );
}

function paint(values: ArrayLike<number>, grid: MatrixGrid, scale: ColorScale, className: string): HTMLCanvasElement {
  const raster = paintGrid(values, 0, grid, scale);
  const canvas = sizedCanvas(raster.width, raster.height, className);
  canvas
    .getContext('2d')!
    .putImageData(new ImageData(raster.rgba as Uint8ClampedArray<ArrayBuffer>, raster.width, raster.height), 0, 0);
  return canvas;
}

function colorBar(scale: ColorScale): HTMLElement {
  return el(
    'div',
    { class: 'colorbar' },
    el('span', {}, formatStat(scale.lo)),
    el('span', { class: 'ramp', style: `background: ${cssGradient(scale)}` }),
    el('span', {}, formatStat(scale.hi)),
  );
}

function normsBlock(norms: TokenNorms, width: number): HTMLElement {
  let [lo, hi] = [Number.POSITIVE_INFINITY, 0];
  for (const v of norms.values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const scale = scaleFor(Math.min(lo, 0), hi);
  const grid = normsLayout(norms, Math.max(120, width - 160));
  const canvas = paint(norms.values, grid, scale, 'token-norms');
  canvas.dataset.layers = String(norms.layers.length);
  canvas.dataset.tokens = String(norms.tokens);
  hoverCanvas(canvas, (x, y) => {
    const i = gridIndexAt(grid, x, y);
    if (i < 0) return undefined;
    const [layer, token] = [Math.floor(i / norms.tokens), i % norms.tokens];
    return `${norms.layers[layer]}, token ${token}: ‖h‖ = ${formatExact(norms.values[i])}`;
  });
  const rowHeight = grid.tileHeight / norms.layers.length;
  const labels = norms.layers.map((l) =>
    el('span', { style: `height: ${rowHeight}px; line-height: ${rowHeight}px` }, l),
  );
  return el(
    'div',
    { class: 'token-norms-block' },
    el('h3', {}, `Hidden states: L2 norm per token (${norms.layers.length} states × ${norms.tokens} tokens)`),
    el('div', { class: 'labelled' }, el('div', { class: 'row-labels' }, ...labels), canvas),
    colorBar(scale),
  );
}

function headsBlock(grid: HeadGrid, width: number): HTMLElement {
  const layout = headsLayout(grid, Math.max(120, width - 160));
  const canvas = paint(grid.values, layout, scaleFor(0, 1), 'head-grid');
  canvas.dataset.key = grid.key;
  canvas.dataset.heads = String(grid.heads);
  hoverCanvas(canvas, (x, y) => {
    const i = gridIndexAt(layout, x, y);
    if (i < 0) return undefined;
    const per = grid.queries * grid.keys;
    const [head, query, key] = [Math.floor(i / per), Math.floor((i % per) / grid.keys), i % grid.keys];
    return `${grid.key}[0, ${head}, ${query}, ${key}] = ${formatExact(grid.values[i])} (head ${head}, query ${query}, key ${key})`;
  });
  return el(
    'div',
    { class: 'heads-row' },
    el('span', { class: 'heads-label' }, `${grid.key} · ${grid.heads} heads`),
    canvas,
  );
}
