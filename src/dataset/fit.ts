/**
 * Fitting items read from files to a model's inputs (isomorphic): which input an unnamed array
 * feeds, float64 to float32 (numpy's default dtype against PyTorch's), a leading item axis for
 * one-item files, and stacking items into a batch. Any other mismatch is reported, never guessed.
 */
import { NeurotapError } from '../errors.js';
import { castToInputDtype } from '../input-fit.js';
import type { NeurotapModel } from '../model.js';
import { sizeOf, type DType, type HostTensor, type TypedArray } from '../tensor.js';

export function inputDtype(model: NeurotapModel, input: string): DType | undefined {
  const { dtype } = model.valueInfo(input);
  return dtype === 'unknown' ? undefined : dtype;
}

/** Arrays keyed by input name: a lone array feeds the model's only input. */
export function nameArrays(
  model: NeurotapModel,
  arrays: Map<string, HostTensor>,
  where: string,
): Record<string, HostTensor> {
  if (arrays.size === 1 && model.inputNames.length === 1) return { [model.inputNames[0]]: [...arrays.values()][0] };
  const missing = model.inputNames.filter((n) => !arrays.has(n));
  if (missing.length) {
    throw new NeurotapError(
      'E_MISSING_INPUT',
      `${where} has no array for input ${missing.map((n) => `'${n}'`).join(', ')}; it holds ${[...arrays.keys()].join(', ')}.`,
      {
        hint: `Name the arrays after the model inputs: np.savez(path, ${model.inputNames.map((n) => `${n}=...`).join(', ')}).`,
      },
    );
  }
  return Object.fromEntries(model.inputNames.map((n) => [n, arrays.get(n)!]));
}

/** float64 data for a float32 input becomes float32; everything else passes unchanged for the model to check. */
export function castToInput(model: NeurotapModel, input: string, t: HostTensor): HostTensor {
  return castToInputDtype(model.valueInfo(input), t);
}

/** A one-item tensor with its item axis: files may hold [1, C, H, W] or [C, H, W] for an input of rank 4. */
export function asOneItem(model: NeurotapModel, input: string, t: HostTensor, where: string): HostTensor {
  const rank = model.valueInfo(input).shape?.length;
  if (rank === undefined || t.dims.length === rank - 1) return { ...t, dims: [1, ...t.dims] };
  if (t.dims.length === rank && t.dims[0] === 1) return t;
  throw new NeurotapError(
    'E_INPUT_SHAPE',
    `${where} has shape [${t.dims.join(', ')}]; one item of input '${input}' has rank ${rank - 1} (or ${rank} with a leading 1).`,
    {
      hint: 'Each file holds one item; stack many items into one .npy (N, ...) and pass that file instead.',
    },
  );
}

/** Items of one input (each with a leading axis of 1) stacked into one batch tensor. */
export function stackItems(input: string, items: readonly HostTensor[], ids: readonly string[]): HostTensor {
  const first = items[0];
  const row = sizeOf(first.dims);
  const data = first.data as TypedArray;
  const out = new (data.constructor as new (length: number) => TypedArray)(row * items.length);
  items.forEach((t, i) => {
    if (t.type !== first.type || t.dims.join() !== first.dims.join()) {
      throw new NeurotapError(
        'E_INPUT_SHAPE',
        `Item ${ids[i]} gives input '${input}' ${t.type} [${t.dims.join(', ')}]; item ${ids[0]} gave ${first.type} [${first.dims.join(', ')}].`,
        {
          hint: 'Every item must have the same shape and dtype; resize images to one size (the `size` image option).',
        },
      );
    }
    (out as Float32Array).set(t.data as Float32Array, i * row);
  });
  return { type: first.type, dims: [items.length, ...first.dims.slice(1)], data: out };
}
