/**
 * Neuron statistics as files (isomorphic): CSV with one row per neuron, for spreadsheets and
 * pandas, and JSON, the whole report.
 *
 * CSV columns: key, neuron, count, nan, mean, std, min, max, fraction_active, dead, top_ids,
 * top_values; the last two are JSON arrays (ids may hold commas or semicolons), which
 * `json.loads` reads back.
 */
import type { NeuronStatsReport } from './compute-neuron-stats.js';

const CSV_HEADER = [
  'key',
  'neuron',
  'count',
  'nan',
  'mean',
  'std',
  'min',
  'max',
  'fraction_active',
  'dead',
  'top_ids',
  'top_values',
];

/** RFC 4180 quoting: only cells holding a comma, quote or line break are quoted. */
function csvCell(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function statsToCsv(report: NeuronStatsReport): string {
  const lines = [CSV_HEADER.join(',')];
  for (const layer of report.layers) {
    for (const n of layer.neurons) {
      const row = [
        layer.key,
        n.index,
        n.count,
        n.nan,
        n.mean,
        n.std,
        n.min,
        n.max,
        n.fractionActive,
        layer.dead.includes(n.index),
        JSON.stringify(n.top.map((t) => t.id)),
        JSON.stringify(n.top.map((t) => t.value)),
      ];
      lines.push(row.map(csvCell).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

export function statsToJson(report: NeuronStatsReport): string {
  return JSON.stringify(report, null, 1);
}
