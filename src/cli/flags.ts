/**
 * The flags that several commands take, each defined once (its help text and how its value is
 * read), so `extract`, `report` and `stats` cannot drift apart. A command lists the ones it takes:
 * `{ input: FLAGS.input, layers: FLAGS.layers, ... }`.
 */
import type { ArgsDef } from 'citty';
import { isNeurotapError, NeurotapError } from '../errors.js';
import { MAX_THREADS } from '../model.js';
import { checkShard } from '../dataset/chunks.js';
import type { Shard } from '../dataset/types.js';
import { shardFromEnvironment, type Environment } from '../dataset/shard-env.js';
import type { Reduction } from '../graph/rewrite.js';
import type { LayerSpec } from '../capture/select.js';
import { lastValue, parseInteger, type ScannedFlags } from './argv.js';

export const FLAGS = {
  model: { type: 'positional', required: true, description: 'The .onnx file' },
  input: {
    type: 'string',
    alias: 'i',
    valueHint: '[NAME=]FILE',
    description: 'Input data: .npy, .npz (arrays named by input) or an image; NAME= picks the input (repeatable)',
  },
  inputs: {
    type: 'string',
    valueHint: 'DATA',
    description:
      'A data set: directory, quoted glob, list .txt, .npy/.npz with items first, or .jsonl of token ids (run in batches)',
  },
  random: {
    type: 'boolean',
    description:
      'Random normal inputs (zeros for integer inputs) at the declared shapes, for inputs not given by --input',
  },
  seed: { type: 'string', valueHint: 'N', description: 'Seed for --random (default 0)' },
  dim: {
    type: 'string',
    valueHint: 'NAME=SIZE',
    description: 'Size of a symbolic dimension for --random (repeatable; batch-like names default to 1)',
  },
  layers: {
    type: 'string',
    alias: 'l',
    valueHint: 'SPEC',
    description:
      'Module names, globs (layer1.*), type:Conv2d, /regexp/, or presets leaves|modules|values|hidden_states|attentions, comma-separated (repeatable; default leaves)',
  },
  reduce: {
    type: 'string',
    valueHint: '[PATTERN=]R',
    description:
      'Reduce in the graph: mean|max (over axes after channels), time-mean|time-max|last (axis 1), none; PATTERN= limits it to matching layers (repeatable)',
  },
  'batch-size': { type: 'string', valueHint: 'N', description: 'With a data set: items per run (default 32)' },
  threads: { type: 'string', valueHint: 'N', description: 'ONNX Runtime intra-op threads' },
  shard: {
    type: 'string',
    valueHint: 'INDEX/COUNT|auto',
    description:
      'With a data set: process only slice INDEX (from 0) of COUNT; auto reads them from the job runner (Kubernetes, Slurm, AWS Batch, Cloud Run/Batch)',
  },
  ep: {
    type: 'string',
    valueHint: 'LIST',
    description: 'Execution providers in order of preference, e.g. cuda,cpu (needs a CUDA build of onnxruntime-node)',
  },
} as const satisfies ArgsDef;

/** `--threads N`; undefined: ONNX Runtime's default. */
export function threadsOf(flags: ScannedFlags): number | undefined {
  const text = lastValue(flags, 'threads');
  return text === undefined ? undefined : parseInteger(text, 'threads', 1, MAX_THREADS);
}

/** `--ep cuda,cpu` as a list; undefined: the CPU provider. */
export function executionProvidersOf(flags: ScannedFlags): string[] | undefined {
  return lastValue(flags, 'ep')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `--seed N` for --random (default 0). */
export function seedOf(flags: ScannedFlags): number {
  return parseInteger(lastValue(flags, 'seed') ?? '0', 'seed', 0, 2 ** 32 - 1);
}

/** `--dim NAME=SIZE` values; the last `=` splits, so names may contain one. */
export function dimSizesOf(flags: ScannedFlags): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const flag of flags.values.get('dim') ?? []) {
    const eq = flag.lastIndexOf('=');
    const size = Number(flag.slice(eq + 1));
    if (eq <= 0 || !/^\d+$/.test(flag.slice(eq + 1).trim()) || !Number.isSafeInteger(size)) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected --dim NAME=SIZE with a non-negative integer size; got '${flag}'.`,
        {
          hint: 'E.g. --dim batch=2 --dim seq=16; `neurotap layers MODEL` shows the dimension names.',
        },
      );
    }
    sizes.set(flag.slice(0, eq).trim(), size);
  }
  return sizes;
}

/** `--reduce mean` for every layer, `--reduce 'layer1.*=max'` per pattern (repeatable). */
export function reductionOf(flags: ScannedFlags): Reduction | Record<string, Reduction> | undefined {
  const values = flags.values.get('reduce') ?? [];
  if (values.length === 0) return undefined;
  if (values.length === 1 && !values[0].includes('=')) return values[0] as Reduction; // the library checks the name
  const rules: Record<string, Reduction> = {};
  for (const value of values) {
    const eq = value.lastIndexOf('=');
    if (eq <= 0)
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected --reduce R or --reduce PATTERN=R; got '${value}' among several.`,
        { hint: "E.g. --reduce 'conv*=mean' --reduce fc1=none." },
      );
    rules[value.slice(0, eq)] = value.slice(eq + 1) as Reduction;
  }
  return rules;
}

/**
 * `--shard INDEX/COUNT` (INDEX from 0), or `--shard auto`: the index and count from the job runner's
 * environment (see shard-env.ts); the library checks the numbers.
 */
export function shardOf(flags: ScannedFlags, env: Environment = process.env): Shard | undefined {
  const text = lastValue(flags, 'shard');
  if (text === undefined) return undefined;
  if (text.trim() === 'auto') {
    try {
      const { index, count } = shardFromEnvironment(env);
      return { index, count };
    } catch (err) {
      if (!isNeurotapError(err)) throw err;
      throw new NeurotapError(err.code, err.message.replace(/^Shard from the environment:/, '--shard auto:'), {
        hint: `${err.hint ?? ''} Explicitly: --shard INDEX/COUNT.`.trim(),
        ...(err.details ? { details: err.details } : {}),
      });
    }
  }
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected --shard INDEX/COUNT (e.g. 0/4) or --shard auto; got '${text}'.`,
      {
        hint: 'INDEX counts from 0, as Kubernetes JOB_COMPLETION_INDEX and Slurm SLURM_ARRAY_TASK_ID (with --array=0-N) do; auto reads them from the environment.',
      },
    );
  }
  return checkShard({ index: Number(match[1]), count: Number(match[2]) });
}

/**
 * `--layers` values as the library's specs: `type:Conv2d` is `{ type: 'Conv2d' }`, `/re/flags` a RegExp
 * (matched against module names, commas inside it kept), anything else a name, glob or preset.
 */
export function layerSpecsOf(flags: ScannedFlags, fallback: string): LayerSpec[] {
  const texts = flags.values.get('layers') ?? [fallback];
  return texts.flatMap((text) => splitSpecs(text)).map(toSpec);
}

/** Commas separate specs, except inside a /regexp/. */
function splitSpecs(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inRegExp = false;
  for (const c of text) {
    if (c === '/' && (current === '' || inRegExp)) inRegExp = current === '' ? true : !inRegExp;
    if (c === ',' && !inRegExp) {
      out.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  return [...out, current].map((s) => s.trim()).filter(Boolean);
}

function toSpec(text: string): LayerSpec {
  if (text.startsWith('type:')) return { type: text.slice('type:'.length) };
  const re = /^\/(.+)\/([dgimsuvy]*)$/.exec(text);
  if (!re) return text;
  try {
    return new RegExp(re[1], re[2]);
  } catch (cause) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `--layers ${text} is not a valid regular expression: ${(cause as Error).message}.`,
      {
        hint: "E.g. --layers '/^layer[12]\\.0\\./' (JavaScript syntax, matched against module names).",
        cause,
      },
    );
  }
}
