/**
 * Draws one layer into its card: statistics, the figure (feature maps, units or a time x unit
 * heatmap) with its colour scale, and the histogram; hovering either shows exact values.
 */
import { cssColor, cssGradient } from '../src/viewer-core/colors.js';
import { drawFigure, figureScale, type Figure } from '../src/viewer-core/figure.js';
import { formatExact, formatPercent, formatStat } from '../src/viewer-core/format.js';
import { histogramBars } from '../src/viewer-core/histogram.js';
import type { LayerData } from '../src/viewer-core/layer-data.js';
import { unravel, viewOf, type LayerView } from '../src/viewer-core/layer-view.js';
import { el, sizedCanvas } from './dom.js';
import { hoverCanvas } from './tooltip.js';

const HISTOGRAM = { width: 260, height: 80 };

export function statsRow(layer: LayerData): HTMLElement {
  const s = layer.summary;
  const items: [string, string, number][] = [
    ['mean', formatStat(s.mean), s.mean],
    ['std', formatStat(s.std), s.std],
    ['min', formatStat(s.min), s.min],
    ['max', formatStat(s.max), s.max],
    ['active', formatPercent(s.fractionPositive), s.fractionPositive],
  ];
  return el(
    'dl',
    { class: 'stats' },
    ...items.map(([name, text, value]) =>
      el('div', { 'data-stat': name, 'data-value': value }, el('dt', {}, name), el('dd', {}, text)),
    ),
  );
}

function figureCaption(_layer: LayerData, view: LayerView, figure: Figure): string {
  const parts: string[] = [];
  if (view.batch > 1) parts.push(`sample 0 of ${view.batch}`);
  if (view.kind === 'maps')
    parts.push(
      figure.shown < figure.total
        ? `first ${figure.shown} of ${figure.total} channels`
        : `${figure.total} channels of ${view.rows}×${view.cols}`,
    );
  if (view.kind === 'sequence') parts.push(`${view.rows} steps (rows) × ${view.cols} units (columns)`);
  if (view.kind === 'units') parts.push(`${view.cols} units`);
  return parts.join(' · ');
}

function colorBar(figure: Figure): HTMLElement {
  return el(
    'div',
    { class: 'colorbar' },
    el('span', {}, formatStat(figure.scale.lo)),
    el('span', { class: 'ramp', style: `background: ${cssGradient(figure.scale)}` }),
    el('span', {}, formatStat(figure.scale.hi)),
  );
}

function topList(_layer: LayerData, figure: Figure): HTMLElement | undefined {
  if (figure.top.length === 0) return undefined;
  return el(
    'p',
    { class: 'top-units' },
    'top units: ',
    ...figure.top.map((u) => el('span', { class: 'unit' }, `#${u.index} `, el('b', {}, formatStat(u.value)))),
  );
}

/** The figure canvas; hovering names the element, e.g. `conv1[0, 3, 5, 2] = 0.4375`. */
export function figureBlock(layer: LayerData, maxWidth: number): HTMLElement {
  const view = viewOf(layer.dims);
  const figure = drawFigure(layer.values, view, figureScale(layer.summary), { maxWidth });
  const canvas = sizedCanvas(figure.width, figure.height, `figure ${view.kind}`);
  canvas
    .getContext('2d')!
    .putImageData(new ImageData(figure.rgba as Uint8ClampedArray<ArrayBuffer>, figure.width, figure.height), 0, 0);
  canvas.dataset.key = layer.key;
  hoverCanvas(canvas, (x, y) => {
    const index = figure.indexAt(x, y);
    if (index < 0) return undefined;
    return `${layer.key}[${unravel(index, layer.dims).join(', ')}] = ${formatExact(layer.values[index])}`;
  });
  return el(
    'div',
    { class: 'figure-block' },
    canvas,
    colorBar(figure),
    el('p', { class: 'caption' }, figureCaption(layer, view, figure)),
    topList(layer, figure),
  );
}

/** The histogram of all values (whole batch); hovering a bar gives its range and count. */
export function histogramBlock(layer: LayerData): HTMLElement {
  const canvas = sizedCanvas(HISTOGRAM.width, HISTOGRAM.height, 'histogram');
  const ctx = canvas.getContext('2d')!;
  const bars = histogramBars(layer.histogram, HISTOGRAM.width, HISTOGRAM.height);
  const scale = figureScale(layer.summary);
  for (const bar of bars) {
    ctx.fillStyle = cssColor(scale, (bar.lo + bar.hi) / 2);
    ctx.fillRect(bar.x, bar.y, Math.max(1, bar.width - 1), bar.height);
  }
  hoverCanvas(canvas, (x) => {
    const bar = bars[Math.floor(x / (HISTOGRAM.width / bars.length))];
    return bar
      ? `${formatExact(bar.lo)} … ${formatExact(bar.hi)}: ${bar.count} value${bar.count === 1 ? '' : 's'}`
      : undefined;
  });
  const range = el(
    'div',
    { class: 'axis' },
    el('span', {}, formatStat(layer.histogram.lo)),
    el('span', {}, formatStat(layer.histogram.hi)),
  );
  return el(
    'div',
    { class: 'histogram-block' },
    canvas,
    range,
    el('p', { class: 'caption' }, `histogram of ${layer.values.length} values`),
  );
}
