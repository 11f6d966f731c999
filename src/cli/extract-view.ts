/**
 * What `neurotap extract` prints: a table of the captured tensors with summary statistics, the
 * modules that could not be observed and why, or all of it as one JSON object (`--json`).
 */
import { notObservableLines } from './not-observable.js';
import type { ActivationCache } from '../capture/activation-cache.js';
import { summarize } from '../tensor-summary.js';
import type { HostTensor } from '../tensor.js';
import { formatColumns, formatNumber, formatShape, stylesFor } from './format.js';

export interface ExtractResult {
  model: string;
  feeds: Readonly<Record<string, HostTensor>>;
  acts: ActivationCache;
  written: { format: string; files: string[] } | null;
  /** How many modules came from which evidence, and a warning when none was found (module-evidence.ts). */
  modules?: { summary: string; warning?: string };
}

interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** String tensors have no statistics; JSON turns the NaNs of empty tensors into null. */
function statsOf(t: HostTensor): Stats | null {
  if (Array.isArray(t.data)) return null;
  const { mean, std, min, max } = summarize(t);
  return { mean, std, min, max };
}

const asHost = (t: unknown) => t as HostTensor; // ORT Tensors carry type, dims and data as HostTensor does

export function extractJson(r: ExtractResult): string {
  const activations = r.acts.targets
    .filter((t) => r.acts.has(t.key))
    .map((t) => {
      const tensor = asHost(r.acts.get(t.key));
      const stats = statsOf(tensor) ?? { mean: null, std: null, min: null, max: null };
      return {
        key: t.key,
        module: t.module ?? null,
        call: t.call,
        value: t.value,
        ...(t.recomputed ? { recomputed: t.recomputed } : {}),
        shape: [...tensor.dims],
        dtype: tensor.type,
        ...stats,
      };
    });
  return JSON.stringify(
    {
      model: r.model,
      inputs: Object.fromEntries(
        Object.entries(r.feeds).map(([name, t]) => [name, { dtype: t.type, shape: [...t.dims] }]),
      ),
      activations,
      notObservable: r.acts.notObservable,
      ...(r.modules ? { modules: r.modules } : {}),
      outputs: Object.entries(r.acts.outputs).map(([name, t]) => ({ name, shape: [...t.dims], dtype: t.type })),
      written: r.written,
    },
    null,
    2,
  );
}

function tensorRow(key: string, t: HostTensor): string[] {
  const stats = statsOf(t);
  const numbers = stats ? [stats.mean, stats.std, stats.min, stats.max].map(formatNumber) : ['', '', '', ''];
  return [key, formatShape(t.dims), t.type, ...numbers];
}

/** Tensors a fused op hid, recomputed from its inputs: said, so nobody mistakes them for read values. */
function recomputedLines(r: ExtractResult): string[] {
  const keys = r.acts.targets.filter((t) => t.recomputed && r.acts.has(t.key));
  if (!keys.length) return [];
  return ['', `recomputed (not read from the graph): ${keys.map((t) => t.key).join(', ')}: ${keys[0].recomputed}`];
}

export function extractText(r: ExtractResult): string[] {
  const s = stylesFor(process.stdout);
  const header = formatColumns([
    ...Object.entries(r.feeds).map(([name, t]) => ['input', name, t.type, formatShape(t.dims)]),
  ]).map((line) => s.dim(line.slice(0, 5)) + line.slice(5));
  const rows = [...r.acts].map(([key, t]) => tensorRow(key, asHost(t)));
  const outputs = Object.entries(r.acts.outputs).map(([name, t]) => tensorRow(s.dim(`output:${name}`), asHost(t)));
  const table = formatColumns(
    [['key', 'shape', 'dtype', 'mean', 'std', 'min', 'max'].map(s.bold), ...rows, ...outputs],
    [3, 4, 5, 6],
  );
  const found = r.modules ? [s.dim(`modules: ${r.modules.summary}`)] : [];
  if (r.modules?.warning) found.push(s.yellow(`warning: ${r.modules.warning}`));
  const lines = [
    `${s.dim('model')}  ${r.model}`,
    ...header,
    ...found,
    '',
    ...table,
    ...notObservableLines(r.acts.notObservable, s),
    ...recomputedLines(r),
  ];
  if (r.written) {
    const where =
      r.written.format === 'npy-directory'
        ? `${r.written.files.length} files in ${r.written.files[0]?.replace(/[\\/][^\\/]*$/, '')}`
        : r.written.files[0];
    lines.push('', `wrote ${rows.length + outputs.length} tensors to ${where} (${r.written.format})`);
  }
  return lines;
}
