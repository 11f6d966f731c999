/**
 * The report's pictures, made in Node: figures from the viewer's own rasters encoded as PNG
 * (sharp), histograms and the colour bar as inline SVG, each bar with its exact range and count.
 */
import sharp from 'sharp';
import { cssColor, cssGradient } from '../viewer-core/colors.js';
import { drawFigure, figureScale, type Figure } from '../viewer-core/figure.js';
import { formatExact, formatStat } from '../viewer-core/format.js';
import { histogramBars } from '../viewer-core/histogram.js';
import type { LayerData } from '../viewer-core/layer-data.js';
import type { Raster } from '../viewer-core/matrix-grid.js';
import { viewOf } from '../viewer-core/layer-view.js';
import type { ImageLayout } from '../input-fit.js';
import { tensorPixels } from '../viewer-core/inputs.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A raster as a PNG data: URL. */
export async function pngDataUrl(raster: Raster): Promise<string> {
  const png = await sharp(Buffer.from(raster.rgba.buffer, raster.rgba.byteOffset, raster.rgba.byteLength), {
    raw: { width: raster.width, height: raster.height, channels: 4 },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

export interface FigureImage {
  readonly figure: Figure;
  readonly html: string;
}

/** The layer's figure as an <img>, drawn exactly as the viewer draws it. */
export async function figureImage(layer: LayerData, maxWidth: number): Promise<FigureImage> {
  const figure = drawFigure(layer.values, viewOf(layer.dims), figureScale(layer.summary), { maxWidth });
  const alt = `${layer.key}: ${viewOf(layer.dims).kind} of ${layer.dims.join('x')}`;
  const html = `<img class="figure" src="${await pngDataUrl(figure)}" width="${figure.width}" height="${figure.height}" alt="${escapeHtml(alt)}">`;
  return { figure, html };
}

export function colorBarHtml(figure: Figure): string {
  return `<div class="colorbar"><span>${formatStat(figure.scale.lo)}</span><span class="ramp" style="background: ${cssGradient(figure.scale)}"></span><span>${formatStat(figure.scale.hi)}</span></div>`;
}

/** The histogram as SVG bars; hovering a bar shows its range and count (an SVG <title>). */
export function histogramSvg(layer: LayerData, width = 260, height = 80): string {
  const scale = figureScale(layer.summary);
  const bars = histogramBars(layer.histogram, width, height).map((b) => {
    const title = `${formatExact(b.lo)} … ${formatExact(b.hi)}: ${b.count}`;
    return `<rect x="${b.x.toFixed(2)}" y="${b.y}" width="${Math.max(1, b.width - 1).toFixed(2)}" height="${b.height}" fill="${cssColor(scale, (b.lo + b.hi) / 2)}"><title>${escapeHtml(title)}</title></rect>`;
  });
  return `<svg class="histogram" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="histogram of ${escapeHtml(layer.key)}">${bars.join('')}</svg>`;
}

/** Sample 0 of an image-like input as a PNG data: URL, `size` pixels on its longer side, pixels kept sharp. */
export async function inputImage(data: ArrayLike<number>, layout: ImageLayout, size = 112): Promise<string> {
  const rgba = tensorPixels(data, layout);
  const png = await sharp(Buffer.from(rgba.buffer), {
    raw: { width: layout.width, height: layout.height, channels: 4 },
  })
    .resize({ width: size, height: size, fit: 'contain', kernel: 'nearest', background: '#ffffff' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
