/**
 * The manifest that makes a store self-describing and a run reproducible (isomorphic): model hash,
 * inputs, options, and per key its array, dtype and shape. It holds nothing that varies between
 * runs (no time, host or shard), so every shard writes the same bytes and a resumed run can check
 * it continues the same job.
 */
import { NeurotapError } from '../errors.js';
import type { Reduction } from '../graph/rewrite.js';
import type { NeurotapModel } from '../model.js';
import { inputDtype } from './fit.js';
import type { DataSource, DatasetLayout, ExtractDatasetOptions, KeyLayout, SourceDescription } from './types.js';

export const MANIFEST_FORMAT = 'neurotap.dataset/1';

export interface DatasetManifest {
  format: string;
  neurotap: string;
  model: { file: string; sha256: string; inputs: { name: string; dtype: string; shape: (number | string)[] | null }[] };
  source: SourceDescription;
  /** Content fingerprints (`size:sha256`) of the input files by path: a resume on changed data is refused. */
  data: Record<string, string>;
  items: { count: number; ids: string[] };
  options: {
    batchSize: number;
    chunkSize: number;
    layers: unknown;
    reduce: Reduction | Record<string, Reduction> | null;
    inputsOfModules: boolean;
    dequantize: boolean;
    outputs: boolean;
  };
  chunks: { size: number; count: number };
  keys: (Omit<KeyLayout, 'shape'> & { shape: number[] })[];
  skipped: { key: string; reason: string }[];
}

export interface ManifestContext {
  model: NeurotapModel;
  modelFile: string;
  modelSha256: string;
  version: string;
  source: DataSource;
  options: ExtractDatasetOptions;
  /** Fingerprints of the source's files (see DatasetManifest.data); none for in-memory sources. */
  data?: Record<string, string>;
}

/** Layer specs as plain JSON (RegExps as their source text). */
function layersJson(layers: ExtractDatasetOptions['layers']): unknown {
  const list = layers === undefined ? ['leaves'] : Array.isArray(layers) ? layers : [layers];
  return list.map((l) =>
    l instanceof RegExp ? `/${l.source}/${l.flags}` : typeof l === 'object' ? { type: String(l.type) } : l,
  );
}

/** Everything but the layout, which needs a first batch; `c.options.chunkSize` is resolved by then. */
export function manifestIdentity(c: ManifestContext): Omit<DatasetManifest, 'keys' | 'skipped'> {
  const batchSize = c.options.batchSize ?? 32;
  const chunkSize = c.options.chunkSize ?? batchSize;
  const { source } = c;
  return {
    format: MANIFEST_FORMAT,
    neurotap: c.version,
    model: {
      file: c.modelFile,
      sha256: c.modelSha256,
      inputs: c.model.inputNames.map((name) => ({
        name,
        dtype: inputDtype(c.model, name) ?? 'unknown',
        shape: c.model.valueInfo(name).shape,
      })),
    },
    source: source.describe(),
    data: { ...c.data },
    items: { count: source.count, ids: Array.from({ length: source.count }, (_, i) => source.id(i)) },
    options: {
      batchSize,
      chunkSize,
      layers: layersJson(c.options.layers),
      reduce: (c.options.reduce as DatasetManifest['options']['reduce']) ?? null,
      inputsOfModules: c.options.inputs === true,
      dequantize: c.options.dequantize === true,
      outputs: c.options.outputs !== false,
    },
    chunks: { size: chunkSize, count: Math.ceil(source.count / chunkSize) },
  };
}

export function buildManifest(c: ManifestContext, layout: DatasetLayout): DatasetManifest {
  const count = c.source.count;
  return {
    ...manifestIdentity(c),
    keys: layout.keys.map((k) => ({ ...k, shape: [count, ...k.shape] })),
    skipped: [...layout.skipped],
  };
}

/** The layout a manifest records (item shapes without the leading count). */
export function layoutOf(manifest: DatasetManifest): DatasetLayout {
  return { keys: manifest.keys.map((k) => ({ ...k, shape: k.shape.slice(1) })), skipped: manifest.skipped };
}

/** Fails unless `existing` describes the same job as `expected` (same model, inputs and their contents, options, version), naming what differs. */
export function checkSameJob(
  existing: DatasetManifest,
  expected: Omit<DatasetManifest, 'keys' | 'skipped'>,
  where: string,
): void {
  for (const field of Object.keys(expected) as (keyof typeof expected)[]) {
    const diff = firstDifference(existing[field], expected[field], field);
    if (!diff) continue;
    const changed =
      field === 'data'
        ? `the input ${diff.path.slice('data.'.length)} changed since the store was written`
        : `${diff.path} is ${show(diff.existing)} in the store and ${show(diff.expected)} in this run`;
    throw new NeurotapError('E_OUTPUT_PATH', `${where} holds a different job: ${changed}.`, {
      hint:
        field === 'data'
          ? 'Mixing chunks of old and new inputs would give a data set of neither: write to a new path, or set overwrite: true to replace the store.'
          : 'Resume or shard with the same model, inputs, options and neurotap version; or write to a new path.',
      details: { field, path: diff.path, existing: diff.existing, expected: diff.expected },
    });
  }
}

/** The first leaf (dotted path) where two JSON values differ, or undefined when they are equal. */
export function firstDifference(
  a: unknown,
  b: unknown,
  path: string,
): { path: string; existing: unknown; expected: unknown } | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
      const d = firstDifference(a[key], b[key], `${path}.${key}`);
      if (d) return d;
    }
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  }
  return { path, existing: a, expected: b };
}

function show(value: unknown): string {
  if (value === undefined) return 'absent';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
