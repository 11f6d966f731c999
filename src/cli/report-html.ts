/**
 * The report as one self-contained HTML file: inline CSS, pictures as data: PNGs and inline SVG,
 * no script and no external URL, so it opens anywhere and can be mailed as is. The same sections
 * as the viewer: inputs, outputs, the module tree, a card per captured value.
 */
import type { ModuleSummary } from '../index.js';
import { formatDims, formatExact, formatPercent, formatStat } from '../viewer-core/format.js';
import type { LayerData } from '../viewer-core/layer-data.js';
import { viewOf } from '../viewer-core/layer-view.js';
import { treeRows } from '../viewer-core/module-tree.js';
import { topClasses } from '../viewer-core/predict.js';
import { colorBarHtml, escapeHtml, figureImage, histogramSvg } from './report-images.js';
import { REPORT_CSS } from './report-style.js';

export interface ReportInputValue {
  readonly name: string;
  readonly type: string;
  readonly dims: readonly number[];
  /** Where the value came from: a file path, or "random (seed 0)". */
  readonly origin: string;
  /** A data: URL of the input as an image, for image-like inputs. */
  readonly image?: string;
}

export interface ReportData {
  readonly model: string;
  readonly version: string;
  readonly source: string;
  readonly modules: readonly ModuleSummary[];
  readonly inputs: readonly ReportInputValue[];
  readonly layers: readonly LayerData[];
  readonly outputs: readonly LayerData[];
  readonly runMs: number;
}

const FIGURE_WIDTH = 720;

const anchor = (key: string) => `layer-${encodeURIComponent(key)}`;

function statsHtml(layer: LayerData): string {
  const s = layer.summary;
  const items = [
    ['mean', formatStat(s.mean)],
    ['std', formatStat(s.std)],
    ['min', formatStat(s.min)],
    ['max', formatStat(s.max)],
    ['active', formatPercent(s.fractionPositive)],
  ];
  return `<dl class="stats">${items.map(([n, v]) => `<div data-stat="${n}"><dt>${n}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
}

async function layerCard(layer: LayerData, type: string): Promise<string> {
  const view = viewOf(layer.dims);
  const { figure, html } = await figureImage(layer, FIGURE_WIDTH);
  const notes = [
    view.batch > 1 ? `sample 0 of ${view.batch}` : '',
    figure.shown < figure.total ? `first ${figure.shown} of ${figure.total} channels` : '',
    view.kind === 'maps'
      ? `${view.channels} channels of ${view.rows}×${view.cols}`
      : view.kind === 'sequence'
        ? `${view.rows} steps (rows) × ${view.cols} units (columns)`
        : `${view.cols} units`,
  ].filter(Boolean);
  const top = figure.top.length
    ? `<p class="top-units">top units: ${figure.top.map((u) => `#${u.index} <b>${formatExact(u.value)}</b>`).join(' · ')}</p>`
    : '';
  const histogram = `<div>${histogramSvg(layer)}<div class="axis"><span>${formatStat(layer.histogram.lo)}</span><span>${formatStat(layer.histogram.hi)}</span></div><p class="caption">histogram of ${layer.values.length} values</p></div>`;
  return `<section class="card" id="${anchor(layer.key)}" data-key="${escapeHtml(layer.key)}">
<header><h3>${escapeHtml(layer.key)}</h3><span class="type">${escapeHtml(type)}</span><span class="dims">${formatDims(layer.dims)} ${layer.dtype}</span></header>
${statsHtml(layer)}<div class="row"><div>${html}${colorBarHtml(figure)}<p class="caption">${notes.join(' · ')}</p>${top}</div>${histogram}</div></section>`;
}

function inputsPanel(inputs: readonly ReportInputValue[]): string {
  const items = inputs.map(
    (
      v,
    ) => `<div class="input">${v.image ? `<img src="${v.image}" width="112" height="112" alt="input ${escapeHtml(v.name)}">` : ''}
<p><code>${escapeHtml(v.name)} ${v.type} ${formatDims(v.dims)}</code><br><span class="caption">${escapeHtml(v.origin)}</span></p></div>`,
  );
  return `<section class="panel"><h2>Input</h2><div class="row">${items.join('')}</div></section>`;
}

function outputsPanel(outputs: readonly LayerData[]): string {
  const blocks = outputs.map((out) => {
    const classes = topClasses(out.dims, out.values);
    const title = `<h3>${escapeHtml(out.key)} <span class="caption">${formatDims(out.dims)}</span></h3>`;
    if (!classes) return `<div>${title}${statsHtml(out)}</div>`;
    const rows = classes.map(
      (c) =>
        `<tr><td class="mono">${c.index}</td><td class="bar"><span style="width: ${(c.probability * 100).toFixed(1)}%"></span></td><td>${(c.probability * 100).toFixed(1)}%</td><td class="mono">${formatExact(c.logit)}</td></tr>`,
    );
    return `<div>${title}<p class="prediction" data-prediction="${classes[0].index}">predicted class <b>${classes[0].index}</b></p>
<table class="classes"><tr><th>class</th><th>softmax</th><th></th><th>logit</th></tr>${rows.join('')}</table></div>`;
  });
  return `<section class="panel"><h2>Output</h2><div class="row">${blocks.join('')}</div></section>`;
}

function treePanel(data: ReportData): string {
  const shapes = new Map<string, string[]>();
  for (const l of data.layers)
    if (l.module) shapes.set(l.module, [...(shapes.get(l.module) ?? []), formatDims(l.dims)]);
  const captured = new Set(data.layers.map((l) => l.module ?? l.key));
  const rows = treeRows(data.modules).map(({ module: m, depth }) => {
    const name = captured.has(m.name)
      ? `<a href="#${anchor(data.layers.find((l) => (l.module ?? l.key) === m.name)!.key)}">${escapeHtml(m.name)}</a>`
      : escapeHtml(m.name);
    const why = m.notObservable
      ? `<span class="reason" title="${escapeHtml(m.notObservable.hint)}">not observable: ${escapeHtml(m.notObservable.reason)}</span>`
      : '';
    return `<tr class="${m.notObservable ? 'unobservable' : ''}"><td class="mono" style="padding-left: ${8 + depth * 14}px">${name}</td><td class="type">${escapeHtml(m.type)}</td><td>${m.calls}</td><td class="mono">${(shapes.get(m.name) ?? []).join(', ')}</td><td>${why}</td></tr>`;
  });
  const summary = `${data.modules.length} modules · ${data.modules.filter((m) => m.leaf).length} leaves · ${data.modules.filter((m) => m.notObservable).length} not observable · names from ${escapeHtml(data.source)}`;
  return `<section class="panel"><h2>Modules</h2><p class="caption">${summary}</p><table><tr><th>name</th><th>type</th><th>calls</th><th>captured shape</th><th></th></tr>${rows.join('')}</table></section>`;
}

export async function renderReport(data: ReportData): Promise<string> {
  const typeOf = new Map(data.modules.map((m) => [m.name, m.type]));
  const cards: string[] = [];
  for (const layer of data.layers) cards.push(await layerCard(layer, typeOf.get(layer.module ?? '') ?? 'value'));
  const title = `neurotap report: ${data.model}`;
  const meta = `${data.layers.length} values captured in ${data.runMs.toFixed(1)} ms on onnxruntime-node · neurotap ${escapeHtml(data.version)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${REPORT_CSS}</style></head>
<body><h1>${escapeHtml(title)}</h1><p class="meta">${meta}</p>
<div class="row" style="gap: 14px; align-items: stretch">${inputsPanel(data.inputs)}${outputsPanel(data.outputs)}</div>
${treePanel(data)}
${cards.join('\n')}
</body></html>
`;
}
