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

/** Fails unless `existing` describes the same job as `expected` (same model, items, options, version). */
export function checkSameJob(
  existing: DatasetManifest,
  expected: Omit<DatasetManifest, 'keys' | 'skipped'>,
  where: string,
): void {
  for (const field of Object.keys(expected) as (keyof typeof expected)[]) {
    if (JSON.stringify(existing[field]) === JSON.stringify(expected[field])) continue;
    throw new NeurotapError(
      'E_OUTPUT_PATH',
      `${where} holds a different job: its manifest's '${field}' differs from this run's.`,
      {
        hint: 'Resume or shard with the same model, inputs, options and neurotap version; or write to a new path.',
        details: { field, existing: existing[field] as unknown, expected: expected[field] as unknown },
      },
    );
  }
}
