/**
 * `--random`: a tensor for each input at its declared shape, so a model can be probed without
 * data. Seeded, so two runs with the same flags capture the same activations.
 */
import { NeurotapError } from '../errors.js';
import type { NeurotapModel, ValueInfo } from '../model.js';
import type { DType, HostTensor } from '../tensor.js';
import { elementBytes } from '../formats/elements.js';
import { randomTensor, seededUniform } from '../viewer-core/random-input.js';
import { evaluateDim, isBatchName, symbolsOf } from '../graph/symbolic-dims.js';
import { pastSymbols } from '../graph/input-roles.js';
import { withRole } from './random-roles.js';

function shapeError(v: ValueInfo, why: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', `--random cannot make input '${v.name}': ${why}.`, {
    hint: `Pass it as a file instead: --input ${v.name}=FILE.npy.`,
  });
}

/**
 * Sizes for every symbolic dimension: --dim values, 1 for batch-like names, an empty KV cache (its
 * length 0, a `total_*` length the new tokens' alone), else `fallback` (the viewer's 16) or an error
 * listing what is missing.
 */
function resolveSizes(
  model: NeurotapModel,
  inputs: readonly ValueInfo[],
  given: ReadonlyMap<string, number>,
  fallback?: number,
) {
  const sizes = new Map(given);
  const { past, total } = cacheSymbols(model, inputs);
  for (const s of past) if (!sizes.has(s)) sizes.set(s, 0);
  const symbols = new Set<string>();
  for (const v of inputs) {
    if (!v.shape) throw shapeError(v, 'the model declares no shape for it');
    for (const d of v.shape) if (typeof d === 'string' && !given.has(d)) symbolsOf(d).forEach((s) => symbols.add(s));
  }
  if (symbols.has('?'))
    throw shapeError(inputs.find((v) => v.shape!.includes('?'))!, 'a dimension has neither a size nor a name');
  const unused = [...given.keys()].filter(
    (k) => !inputs.some((v) => v.shape!.some((d) => d === k || (typeof d === 'string' && symbolsOf(d).includes(k)))),
  );
  const missing = [...symbols].filter((s) => !sizes.has(s) && !isBatchName(s) && !total.has(s));
  if (fallback !== undefined) for (const s of missing.splice(0)) sizes.set(s, fallback);
  if (missing.length) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `--random needs a size for the symbolic dimension${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (inputs: ${shapesOf(inputs)}).`,
      {
        hint: `Add ${missing.map((s) => `--dim ${s}=SIZE`).join(' ')}; names containing "batch" default to 1.`,
        details: { missing },
      },
    );
  }
  if (unused.length) {
    const all = [...new Set([...symbols, ...given.keys()])].filter((s) => !unused.includes(s));
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `--dim names ${unused.join(', ')}, but no input has such a dimension (inputs: ${shapesOf(inputs)}).`,
      {
        hint: all.length
          ? `The symbolic dimensions are ${all.join(', ')}.`
          : 'The inputs have no symbolic dimensions; drop --dim.',
        details: { unused },
      },
    );
  }
  for (const s of symbols) if (!sizes.has(s) && !total.has(s)) sizes.set(s, 1);
  const pastLength = Math.max(0, ...[...past].map((s) => sizes.get(s) ?? 0));
  const sequence = sequenceSymbol(model, inputs);
  for (const s of total) if (!sizes.has(s)) sizes.set(s, (sequence ? (sizes.get(sequence) ?? 1) : 1) + pastLength);
  return sizes;
}

/**
 * A KV-cache model's cache-length symbols (those only past inputs have) and total-length ones
 * (`total_seq_len`: new tokens plus cache), which --random and the probe derive instead of asking for.
 */
export function cacheSymbols(model: NeurotapModel, inputs: readonly ValueInfo[] = model.inputs) {
  const past = pastSymbols(inputs, (n) => model.inputRole(n));
  const total = new Set<string>();
  if (past.size > 0)
    for (const v of inputs)
      for (const d of v.shape ?? []) if (typeof d === 'string' && /total/i.test(d) && !past.has(d)) total.add(d);
  return { past, total };
}

/** The token ids' sequence dimension (`input_ids [batch, seq_len]` → seq_len). */
function sequenceSymbol(model: NeurotapModel, inputs: readonly ValueInfo[]): string | undefined {
  const ids = inputs.find((v) => model.inputRole(v.name).kind === 'token-ids');
  const dim = ids?.shape?.at(-1);
  return typeof dim === 'string' ? dim : undefined;
}

function shapesOf(inputs: readonly ValueInfo[]): string {
  return inputs.map((v) => `${v.name} [${v.shape!.join(', ')}]`).join(', ');
}

/**
 * Random normal float32/float64 (zeros for other integer, bool and 16-bit float inputs) at each named
 * input's declared shape, symbolic dimensions sized by `dims`; a language model's token ids uniform
 * in its vocabulary, masks of ones, position ids 0..n-1 (input-roles.ts).
 */
export function randomFeeds(
  model: NeurotapModel,
  names: readonly string[],
  dims: ReadonlyMap<string, number>,
  seed: number,
  options: RandomSizeOptions = {},
): Record<string, HostTensor> {
  const uniform = seededUniform(seed);
  const feeds: Record<string, HostTensor> = {};
  for (const { value, shape } of randomShapes(model, names, dims, options))
    feeds[value.name] = withRole(randomTensor(value, shape, uniform), model.inputRole(value.name), uniform);
  return feeds;
}

/** At most this many bytes of random inputs (a declared [1, 3, 20000, 20000] is 4.8 GB). */
export const MAX_RANDOM_BYTES = 2 ** 30;

/**
 * The shapes randomFeeds makes, checked before anything is allocated: every size a non-negative
 * integer (a model may declare -5 or 2^40) and all inputs together at most MAX_RANDOM_BYTES.
 */
export function randomShapes(
  model: NeurotapModel,
  names: readonly string[],
  dims: ReadonlyMap<string, number>,
  options: RandomSizeOptions = {},
): RandomShape[] {
  const shapes = declaredRandomShapes(model, names, dims, options);
  const total = shapes.reduce((n, s) => n + s.bytes, 0);
  if (total > MAX_RANDOM_BYTES)
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `--random would make ${total} bytes of inputs (${shapes.map((s) => `${s.value.name} [${s.shape.join(', ')}]`).join(', ')}); at most ${MAX_RANDOM_BYTES}.`,
      { hint: 'Give smaller sizes with --dim NAME=SIZE, or pass the inputs as files with --input.' },
    );
  return shapes;
}

export interface RandomSizeOptions {
  /** Size of a symbolic dimension neither given nor derived (the viewer's 16); without it, an error. */
  readonly fallbackSize?: number;
}

interface RandomShape {
  value: ValueInfo;
  shape: number[];
  bytes: number;
}

/** The declared shapes at these sizes, each a list of non-negative integers, with their bytes. */
export function declaredRandomShapes(
  model: NeurotapModel,
  names: readonly string[],
  dims: ReadonlyMap<string, number>,
  options: RandomSizeOptions = {},
): RandomShape[] {
  const inputs = names.map((n) => model.valueInfo(n));
  const sizes = resolveSizes(model, inputs, dims, options.fallbackSize);
  return inputs.map((value) => {
    const shape = value.shape!.map((d) => (typeof d === 'number' ? d : evaluateDim(d, sizes)));
    const bad = shape.find((d) => !Number.isSafeInteger(d) || d < 0);
    if (bad !== undefined) throw shapeError(value, `its shape [${shape.join(', ')}] has the size ${bad}`);
    return { value, shape, bytes: shape.reduce((n, d) => n * d, 1) * Math.max(1, elementBytes(value.dtype as DType)) };
  });
}
