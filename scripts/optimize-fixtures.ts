/**
 * Writes the ONNX Runtime-optimised variants of the tiny HF fixtures (scripts/fixtures_transformers.py):
 * `fixtures/<name>/model.ort.onnx` (of model.onnx) and `model.static.ort.onnx` (of the static-shape
 * export model.static.onnx, removed afterwards), what onnxruntime-node saves with
 * `optimizedModelFilePath` at `graphOptimizationLevel: 'all'` on the CPU execution provider (fused
 * contrib ops such as SkipLayerNormalization, FastGelu), and `ort-fusions.json`, the op types before
 * and after. Run it after `scripts/make_fixtures.py hf-gpt2 hf-bert`.
 *
 * Usage: node --import tsx scripts/optimize-fixtures.ts [NAME ...]   (default: hf-gpt2 hf-bert)
 */
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeModel } from '../src/onnx/codec.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const names = process.argv.slice(2);

/** `domain:opType` (the domain only when not the default one) → count, sorted by name. */
function opCounts(path: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of decodeModel(readFileSync(path)).graph?.node ?? []) {
    const op = node.domain ? `${node.domain}:${node.opType}` : String(node.opType);
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Saves ONNX Runtime's optimised graph of `source` as `target`; returns the op types before and after. */
async function optimizeFile(source: string, target: string) {
  const temp = `${target}.tmp`;
  const session = await ort.InferenceSession.create(source, {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    optimizedModelFilePath: temp,
  });
  await session.release();
  renameSync(temp, target);
  const before = opCounts(source);
  const after = opCounts(target);
  return {
    source: basename(source),
    introduced: Object.keys(after).filter((op) => !(op in before)),
    removed: Object.keys(before).filter((op) => !(op in after)),
    before,
    after,
  };
}

async function optimize(name: string): Promise<void> {
  const folder = join(FIXTURES, name);
  const variants: Record<string, Awaited<ReturnType<typeof optimizeFile>>> = {};
  variants['model.ort.onnx'] = await optimizeFile(join(folder, 'model.onnx'), join(folder, 'model.ort.onnx'));
  const staticSource = join(folder, 'model.static.onnx');
  if (existsSync(staticSource)) {
    variants['model.static.ort.onnx'] = await optimizeFile(staticSource, join(folder, 'model.static.ort.onnx'));
    rmSync(staticSource); // only this script reads it; the optimised file is what tests use
  }
  const record = {
    note: "onnxruntime-node InferenceSession.create(source, { graphOptimizationLevel: 'all', executionProviders: ['cpu'], optimizedModelFilePath })",
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    variants,
  };
  writeFileSync(join(folder, 'ort-fusions.json'), `${JSON.stringify(record, null, 2)}\n`);
  for (const [file, v] of Object.entries(variants))
    console.log(`${name}/${file}: introduced ${v.introduced.join(', ') || 'nothing'}; removed ${v.removed.join(', ')}`);
}

for (const name of names.length ? names : ['hf-gpt2', 'hf-bert']) await optimize(name);
