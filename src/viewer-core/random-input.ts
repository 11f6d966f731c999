/**
 * Random inputs at the declared shapes: standard normal floats from a seeded generator (the same
 * page shows the same numbers), zeros for integer and boolean inputs. Symbolic sizes: batch-like
 * names 1, others 16. The viewer's page makes its random inputs with `randomFeeds` (src/cli/random.ts,
 * `fallbackSize` 16), which gives token ids, masks and positions their roles on top of these.
 *
 * ```ts
 * const feeds = randomInputs(model.inputs, 0);
 * ```
 */
import { isBatchName, symbolsOf, evaluateDim } from '../graph/symbolic-dims.js';
import { NeurotapError } from '../errors.js';
import { ELEMENT, type NumericDType } from '../formats/elements.js';
import type { ValueInfo } from '../model.js';
import { sizeOf, type HostTensor } from '../tensor.js';

/** Size given to symbolic dimensions that are not a batch (sequence lengths, mostly). */
export const DEFAULT_SYMBOL_SIZE = 16;

/** splitmix32: a 32-bit state stepped by the golden ratio, then mixed; uniform in [0, 1). */
export function seededUniform(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

/** Standard normal pairs by Marsaglia's polar method. */
function normals(out: Float32Array | Float64Array, uniform: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    let u: number, v: number, s: number;
    do {
      u = 2 * uniform() - 1;
      v = 2 * uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const factor = Math.sqrt((-2 * Math.log(s)) / s);
    out[i] = u * factor;
    if (i + 1 < out.length) out[i + 1] = v * factor;
  }
}

function concreteShape(input: ValueInfo): number[] {
  if (!input.shape) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Input '${input.name}' declares no shape, so no random value can be made for it.`,
      { hint: 'Load an .npy file for it instead.' },
    );
  }
  const sizes = new Map<string, number>();
  for (const d of input.shape)
    if (typeof d === 'string') for (const s of symbolsOf(d)) sizes.set(s, isBatchName(s) ? 1 : DEFAULT_SYMBOL_SIZE);
  return input.shape.map((d) => (typeof d === 'number' ? d : evaluateDim(d, sizes)));
}

/**
 * One random input: standard normal for float32/float64, zeros for integer, bool and 16-bit float
 * inputs (token ids, masks and indices stay in range). Throws for non-numeric inputs.
 */
export function randomTensor(input: ValueInfo, dims: number[], uniform: () => number): HostTensor {
  const type = input.dtype as NumericDType;
  if (!(type in ELEMENT))
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Input '${input.name}' is ${input.dtype}; random values are made for numeric inputs only.`,
      { hint: 'Load an .npy file for it instead.' },
    );
  const data = ELEMENT[type].make(new ArrayBuffer(sizeOf(dims) * ELEMENT[type].bytes), 0, sizeOf(dims));
  if (data instanceof Float32Array || data instanceof Float64Array) normals(data, uniform);
  return { type, dims, data };
}

export function randomInputs(inputs: readonly ValueInfo[], seed: number): Record<string, HostTensor> {
  const uniform = seededUniform(seed);
  return Object.fromEntries(inputs.map((input) => [input.name, randomTensor(input, concreteShape(input), uniform)]));
}
