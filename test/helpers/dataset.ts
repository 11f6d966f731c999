/** Shared by the data-set tests: small inputs on disk, a token-id model, running the CLI, comparing stores. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { encodeModel } from '../../src/onnx/codec.js';
import { cliFromBuild } from './cli.js';
import { encodeNpy } from '../../src/formats/npy.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'neurotap.js');
export const DIGITS_CNN = join(ROOT, 'fixtures', 'digits-cnn.onnx');

/** Deterministic digits-like inputs in [0, 1): [n, 1, 8, 8] float32. */
export function digitsLike(n: number, seed = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: n * 64 }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // a plain LCG: enough for test data
    return (state >>> 8) / 2 ** 24;
  });
}

export function writeDigitsNpy(path: string, n: number, seed = 1): Float32Array {
  const data = digitsLike(n, seed);
  writeFileSync(path, encodeNpy({ type: 'float32', dims: [n, 1, 8, 8], data }));
  return data;
}

/** What a data-set run of the digits CNN varies between tests; everything else is fixed. */
export interface DigitsRun {
  inputs: string;
  out: string;
  batchSize: number;
  chunkSize: number;
  layers?: string;
  json?: boolean;
}

/** `extract` streaming the digits CNN over an .npy of items into a store, on one thread so stores compare byte for byte. */
export function digitsExtractArgs(run: DigitsRun, ...more: string[]): string[] {
  const layers = run.layers ? ['--layers', run.layers] : [];
  const json = run.json === false ? [] : ['--json'];
  return [
    'extract',
    DIGITS_CNN,
    '--inputs',
    run.inputs,
    '--batch-size',
    String(run.batchSize),
    '--chunk-size',
    String(run.chunkSize),
    ...layers,
    '--out',
    run.out,
    '--threads',
    '1',
    ...json,
    ...more,
  ];
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(...args: string[]): Promise<Run> {
  return cliFromBuild(args);
}

/** The CLI with extra environment variables (a job runner's, for `--shard auto`). */
export function cliWithEnv(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return cliFromBuild(args, env);
}

/** Every file of a store (relative path -> bytes), leftovers of interrupted writes (*.tmp) aside. */
export function storeFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.tmp')) files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

/**
 * A token model built here (no fixture needed): input_ids int64 [batch, seq] -> embed (Gather of a
 * [16, 4] table) -> proj (MatMul by [4, 3]). Node names follow TorchScript's `/module/Op`.
 */
export function tokenModelBytes(): Uint8Array {
  const floats = (n: number, scale: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * scale);
  const type = (elemType: number, dims: (number | string)[]) => ({
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  });
  return encodeModel({
    irVersion: 8,
    producerName: 'pytorch',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tokens',
      input: [{ name: 'input_ids', type: type(7, ['batch', 'seq']) }],
      output: [{ name: 'logits', type: type(1, ['batch', 'seq', 3]) }],
      initializer: [
        { name: 'embed.weight', dataType: 1, dims: [16, 4], floatData: floats(64, 1) },
        { name: 'proj.weight', dataType: 1, dims: [4, 3], floatData: floats(12, 0.5) },
      ],
      node: [
        {
          opType: 'Gather',
          name: '/embed/Gather',
          input: ['embed.weight', 'input_ids'],
          output: ['/embed/Gather_output_0'],
        },
        {
          opType: 'MatMul',
          name: '/proj/MatMul',
          input: ['/embed/Gather_output_0', 'proj.weight'],
          output: ['logits'],
        },
      ],
    },
  });
}
