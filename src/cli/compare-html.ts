/**
 * `neurotap compare --report cmp.html`: one self-contained HTML file (inline SVG, no script, no
 * network) with SQNR by depth (keys in execution order) and a histogram of |a−b| per key.
 */
import type { Comparison, KeyComparison } from '../compare/compare.js';
import { HISTOGRAM_DECADES } from '../compare/metrics.js';
import { REPORT_CSS } from './report-style.js';
import { escapeHtml } from './report-images.js';
import { formatNumber, formatShape } from './format.js';

const CHART = { width: 900, height: 260, pad: 36 };
/** Identical keys (infinite SQNR) are drawn at the top of the chart, marked ∞. */
const SQNR_CAP_DB = 160;

function sqnrChart(keys: readonly KeyComparison[]): string {
  const measured = keys.filter((k) => k.sqnrDb !== undefined);
  const finite = measured.map((k) => k.sqnrDb!).filter(Number.isFinite);
  const top = Math.min(SQNR_CAP_DB, Math.max(20, ...finite.map((v) => Math.ceil(v / 20) * 20)));
  const bottom = Math.min(0, ...finite.map((v) => Math.floor(v / 20) * 20));
  const { width, height, pad } = CHART;
  const x = (i: number) => pad + (measured.length < 2 ? 0.5 : i / (measured.length - 1)) * (width - 2 * pad);
  const y = (v: number) => pad + (1 - (Math.min(v, top) - bottom) / (top - bottom)) * (height - 2 * pad);
  const points = measured.map((k, i) => `${x(i).toFixed(1)},${y(k.sqnrDb!).toFixed(1)}`).join(' ');
  const dots = measured
    .map(
      (k, i) =>
        `<circle class="${k.ok ? 'ok' : 'over'}" cx="${x(i).toFixed(1)}" cy="${y(k.sqnrDb!).toFixed(1)}" r="3.5"><title>${escapeHtml(k.key)}: ${Number.isFinite(k.sqnrDb!) ? `${k.sqnrDb!.toFixed(1)} dB` : '∞ (identical)'}</title></circle>`,
    )
    .join('');
  const ticks = [];
  for (let v = bottom; v <= top; v += 20)
    ticks.push(
      `<line x1="${pad}" x2="${width - pad}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${pad - 6}" y="${y(v) + 4}" text-anchor="end">${v === top && finite.length < measured.length ? '∞' : v}</text>`,
    );
  return `<svg id="sqnr-chart" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="SQNR in dB by depth">
${ticks.join('')}<polyline points="${points}" class="line"/>${dots}
<text x="${width / 2}" y="${height - 6}" text-anchor="middle">key, in execution order (${measured.length})</text></svg>`;
}

function histogram(k: KeyComparison): string {
  const counts = k.errorHistogram ?? [];
  const most = Math.max(1, ...counts);
  const bars = counts
    .map((c, i) => {
      const h = (c / most) * 60;
      const label = i === 0 ? '0' : `1e${HISTOGRAM_DECADES.from + i - 1}`;
      return `<rect x="${i * 14}" y="${60 - h}" width="12" height="${h}"><title>|a−b| ${i === 0 ? '= 0' : `≥ ${label}`}: ${c}</title></rect>`;
    })
    .join('');
  return `<svg class="err-hist" viewBox="0 0 ${counts.length * 14} 60" width="${counts.length * 14}" height="60">${bars}</svg>`;
}

function keyCard(k: KeyComparison): string {
  const stats = k.problem
    ? `<p class="reason">${escapeHtml(k.problem)}: ${formatShape(k.shapeA)} vs ${formatShape(k.shapeB)}</p>`
    : `<dl class="stats">${[
        ['maxAbs', formatNumber(k.maxAbs!)],
        ['maxRel', formatNumber(k.maxRel!)],
        ['cosine', k.cosine!.toFixed(6)],
        ['SQNR', Number.isFinite(k.sqnrDb!) ? `${k.sqnrDb!.toFixed(1)} dB` : '∞'],
        ['over', `${(100 * k.overTolerance!).toFixed(2)}%`],
      ]
        .map(([t, d]) => `<div><dt>${t}</dt><dd>${d}</dd></div>`)
        .join(
          '',
        )}</dl>${histogram(k)}<div class="axis"><span>0</span><span>1e${HISTOGRAM_DECADES.from}</span><span>|a−b|</span><span>≥1e${HISTOGRAM_DECADES.to}</span></div>`;
  return `<section class="card ${k.ok ? 'ok' : 'over'}" data-key="${escapeHtml(k.key)}"><header><h3>${escapeHtml(k.key)}</h3><span class="dims">${formatShape(k.shapeA)} ${k.dtypeA} / ${k.dtypeB}</span><span class="verdict">${k.ok ? 'ok' : 'over tolerance'}</span></header>${stats}</section>`;
}

const CSS = `${REPORT_CSS}
#sqnr-chart text { font: 11px ui-monospace, Menlo, monospace; fill: var(--muted); }
#sqnr-chart .grid { stroke: var(--line); }
#sqnr-chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; }
#sqnr-chart circle.ok { fill: var(--accent); } #sqnr-chart circle.over { fill: #d92d20; }
.err-hist rect { fill: var(--accent); } .card.over .err-hist rect { fill: #d92d20; }
.card.over .verdict { color: #d92d20; font-weight: 600; } .verdict { color: var(--muted); margin-left: auto; }
.axis { width: auto; max-width: 220px; }
`;

export function renderComparison(c: Comparison, titles: { a: string; b: string }): string {
  const unmatched = (['a', 'b'] as const)
    .flatMap((side) =>
      c.unmatched[side].map(
        (u) =>
          `<tr><td>${side.toUpperCase()}</td><td class="mono">${escapeHtml(u.key)}</td><td>${escapeHtml(u.reason)}</td></tr>`,
      ),
    )
    .join('');
  const verdict = c.firstDivergence
    ? `first divergence: <code>${escapeHtml(c.firstDivergence)}</code>`
    : `all ${c.keys.length} keys within tolerance`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>neurotap compare: ${escapeHtml(titles.a)} vs ${escapeHtml(titles.b)}</title><style>${CSS}</style></head><body>
<h1>${escapeHtml(titles.a)} vs ${escapeHtml(titles.b)}</h1>
<p class="meta">${c.keys.length} keys compared (B is the reference), atol ${c.tolerance.atol}, rtol ${c.tolerance.rtol}; ${verdict}</p>
<section class="panel"><h2>SQNR by depth (dB, higher is closer)</h2>${sqnrChart(c.keys)}</section>
${unmatched ? `<section class="panel"><h2>Unmatched keys</h2><table><tr><th>only in</th><th>key</th><th>reason</th></tr>${unmatched}</table></section>` : ''}
${c.keys.map(keyCard).join('\n')}
</body></html>
`;
}
