/**
 * In-memory data sources (isomorphic): arrays whose first axis runs over items, sliced without
 * copying. The Node file sources build on these for `.npz` files.
 *
 * ```ts
 * const source = arraySource({ image: { type: 'float32', dims: [5000, 1, 8, 8], data } });
 * ```
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type HostTensor, type TypedArray } from '../tensor.js';
import type { DataSource, SourceDescription } from './types.js';

export interface ArraySourceOptions {
  /** Item ids (default: the row numbers "0", "1", ...). */
  ids?: readonly string[];
  /** What manifests record about where the arrays came from. */
  description?: SourceDescription;
}

/** Rows [start, end) of a tensor whose first axis runs over items: a view, not a copy. */
export function sliceRows(t: HostTensor, start: number, end: number): HostTensor {
  const row = sizeOf(t.dims.slice(1));
  const data = t.data as TypedArray;
  return { type: t.type, dims: [end - start, ...t.dims.slice(1)], data: data.subarray(start * row, end * row) };
}

/** Checks that every array is numeric and that all have the same number of rows; returns it. */
export function commonRowCount(arrays: Readonly<Record<string, HostTensor>>, where: string): number {
  const entries = Object.entries(arrays);
  if (entries.length === 0)
    throw new NeurotapError('E_BAD_FILE', `${where} holds no arrays.`, {
      hint: 'Save one array per model input, with items on the first axis.',
    });
  for (const [name, t] of entries) {
    if (t.type === 'string' || t.dims.length === 0) {
      throw new NeurotapError(
        'E_BAD_FILE',
        `Array '${name}' of ${where} is ${t.type === 'string' ? 'a string tensor' : 'a scalar'}; expected numbers with items on the first axis.`,
        {
          hint: 'Stack the items: np.stack(items) gives shape (N, ...).',
        },
      );
    }
  }
  const counts = new Set(entries.map(([, t]) => t.dims[0]));
  if (counts.size > 1) {
    const shapes = entries.map(([name, t]) => `${name} [${t.dims.join(', ')}]`).join(', ');
    throw new NeurotapError('E_BAD_FILE', `The arrays of ${where} have different item counts on axis 0: ${shapes}.`, {
      hint: 'Every input needs one row per item, in the same order.',
    });
  }
  return entries[0][1].dims[0];
}

export function arraySource(
  arrays: Readonly<Record<string, HostTensor>>,
  options: ArraySourceOptions = {},
): DataSource {
  const count = commonRowCount(arrays, options.description?.path ?? 'the data set');
  if (options.ids && options.ids.length !== count) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected ${count} item ids (one per row); got ${options.ids.length}.`, {
      hint: 'Give one id per item, or none.',
    });
  }
  const description = options.description ?? { kind: 'arrays' };
  return {
    count,
    id: (i) => options.ids?.[i] ?? String(i),
    read: async (start, end) =>
      Object.fromEntries(Object.entries(arrays).map(([name, t]) => [name, sliceRows(t, start, end)])),
    describe: () => ({
      ...description,
      count,
      arrays: Object.fromEntries(Object.entries(arrays).map(([n, t]) => [n, { dtype: t.type, shape: [...t.dims] }])),
    }),
  };
}
