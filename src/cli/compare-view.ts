/**
 * What `neurotap compare` prints: one table row per compared key, the first divergence and the
 * unmatched keys with their reasons, or all of it as one JSON object (`--json`).
 */
import type { Comparison, KeyComparison } from '../compare/compare.js';
import { formatColumns, formatNumber, formatShape, stylesFor } from './format.js';

/** The JSON shape of the issue: per key metrics, firstDivergence, unmatched. SQNR Infinity (identical) is null. */
export function comparisonJson(c: Comparison, extra: Record<string, unknown>): string {
  const keys = c.keys.map(({ errorHistogram: _, ...k }) => ({
    ...k,
    sqnrDb: k.sqnrDb === undefined || !Number.isFinite(k.sqnrDb) ? null : k.sqnrDb,
  }));
  return JSON.stringify({
    ...extra,
    tolerance: c.tolerance,
    keys,
    firstDivergence: c.firstDivergence,
    unmatched: c.unmatched,
  });
}

function cell(x: number | undefined): string {
  return x === undefined ? '-' : formatNumber(x);
}

function row(k: KeyComparison): string[] {
  const shape = k.problem ? `${formatShape(k.shapeA)} vs ${formatShape(k.shapeB)}` : formatShape(k.shapeA);
  const sqnr = k.sqnrDb === undefined ? '-' : Number.isFinite(k.sqnrDb) ? k.sqnrDb.toFixed(1) : 'inf';
  const over = k.overTolerance === undefined ? '-' : `${(100 * k.overTolerance).toFixed(k.overTolerance ? 2 : 0)}%`;
  const nonFinite = (k.nanA ?? 0) + (k.nanB ?? 0) + (k.infA ?? 0) + (k.infB ?? 0);
  return [
    k.key,
    shape,
    `${k.dtypeA}/${k.dtypeB}`,
    cell(k.maxAbs),
    cell(k.maxRel),
    k.cosine === undefined ? '-' : k.cosine.toFixed(6),
    sqnr,
    over,
    nonFinite ? `nan ${k.nanA}/${k.nanB} inf ${k.infA}/${k.infB}` : '',
    k.ok ? 'ok' : (k.problem ?? 'OVER'),
  ];
}

export function comparisonText(c: Comparison, stream: NodeJS.WriteStream): string {
  const s = stylesFor(stream);
  const header = ['key', 'shape', 'dtype A/B', 'maxAbs', 'maxRel', 'cosine', 'SQNR dB', 'over', 'non-finite', ''];
  const lines = formatColumns([header, ...c.keys.map(row)], [3, 4, 5, 6, 7]).map((line, i) => {
    if (i === 0) return s.dim(line);
    return c.keys[i - 1].ok ? line : s.red(line);
  });
  const tol = `atol ${c.tolerance.atol}, rtol ${c.tolerance.rtol}`;
  const bad = c.keys.filter((k) => !k.ok).length;
  lines.push(
    '',
    c.firstDivergence
      ? s.bold(`first divergence: ${c.firstDivergence} (${bad} of ${c.keys.length} keys over ${tol})`)
      : `all ${c.keys.length} keys within ${tol}`,
  );
  for (const [side, list] of [
    ['A', c.unmatched.a],
    ['B', c.unmatched.b],
  ] as const) {
    if (list.length === 0) continue;
    lines.push(s.yellow(`only in ${side} (${list.length})`));
    for (const u of list) lines.push(`  ${u.key}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
