/**
 * How captured tensors become per-item arrays (isomorphic). Most activations have the batch on
 * axis 0, but some do not (an LSTM's h_n is [layers, N, H]), so the layout records, per key, the
 * axis that runs over items; batches are then moved to put that axis first.
 */
import { NeurotapError } from '../errors.js';
import type { NeurotapModel } from '../model.js';
import { sizeOf, type HostTensor, type TypedArray } from '../tensor.js';
import type { DatasetLayout, KeyLayout } from './types.js';

/** What the layout needs to know about a key besides its tensor. */
export interface KeyOrigin {
  /** The graph value the key was read from (for its declared shape). */
  value: string;
  module?: string;
  /** How the tensor was recomputed beside a fused op, where it was not read from the graph. */
  recomputed?: string;
}

/**
 * Picks each key's sample axis from one batch of `n` items: the axis whose declared dimension is
 * the input's batch symbol, else axis 0 if its size is n, else the first axis of size n. A key
 * with no such axis (a value that does not depend on the batch) is skipped with a reason.
 */
export function inferLayout(
  model: NeurotapModel,
  tensors: ReadonlyMap<string, HostTensor>,
  origins: ReadonlyMap<string, KeyOrigin>,
  n: number,
): DatasetLayout {
  const batchSymbol = model.valueInfo(model.inputNames[0]).shape?.[0];
  const keys: Omit<KeyLayout, 'array'>[] = [];
  const skipped: { key: string; reason: string }[] = [];
  for (const [key, t] of tensors) {
    const origin = origins.get(key);
    if (t.type === 'string') {
      skipped.push({ key, reason: 'string tensors cannot be stored as numeric arrays' });
      continue;
    }
    const declared = origin ? (model.valueInfo(origin.value).shape ?? undefined) : undefined;
    const axis = sampleAxisOf(t.dims, declared, typeof batchSymbol === 'string' ? batchSymbol : undefined, n);
    if (axis === undefined) {
      skipped.push({ key, reason: `no axis of its shape [${t.dims.join(', ')}] has the batch size ${n}` });
      continue;
    }
    const moduleType = origin?.module ? model.module(origin.module)?.type : undefined;
    keys.push({
      key,
      dtype: t.type,
      shape: t.dims.filter((_, i) => i !== axis),
      sampleAxis: axis,
      ...(origin?.module ? { module: origin.module } : {}),
      ...(moduleType ? { moduleType } : {}),
      ...(origin?.recomputed ? { recomputed: origin.recomputed } : {}),
    });
  }
  return { keys: assignArrayNames(keys), skipped };
}

function sampleAxisOf(
  dims: readonly number[],
  declared: readonly (number | string)[] | undefined,
  batchSymbol: string | undefined,
  n: number,
): number | undefined {
  const symbolic =
    batchSymbol === undefined || !declared || declared.length !== dims.length ? -1 : declared.indexOf(batchSymbol);
  if (symbolic >= 0 && dims[symbolic] === n) return symbolic;
  if (dims[0] === n) return 0;
  const axis = dims.indexOf(n);
  return axis >= 0 ? axis : undefined;
}

/**
 * Array names safe in any store and file system: characters outside [A-Za-z0-9._-] become `_`
 * (`in:fc#0` -> `in_fc_0`), a leading `.` or `__` (reserved by Zarr) gets a `k` prefix, and
 * collisions get `_2`, `_3`... in key order, so every process names arrays identically.
 */
export function assignArrayNames<T extends { key: string }>(keys: readonly T[]): (T & { array: string })[] {
  const used = new Set<string>();
  return keys.map((k) => {
    let base = k.key.replace(/[^A-Za-z0-9._-]/g, '_');
    if (base === '' || base.startsWith('.') || base.startsWith('__')) base = `k${base}`;
    let name = base;
    for (let i = 2; used.has(name.toLowerCase()); i++) name = `${base}_${i}`;
    used.add(name.toLowerCase()); // case-insensitive file systems (macOS, Windows) must not merge two arrays
    return { ...k, array: name };
  });
}

/**
 * The key's tensor with its sample axis first, checked against the layout. Axis 0 is returned
 * as is (no copy); another axis is moved by copying contiguous runs.
 */
export function toSampleFirst(t: HostTensor, layout: KeyLayout, n: number, chunk: number): HostTensor {
  const a = layout.sampleAxis;
  const shape = t.dims.filter((_, i) => i !== a);
  if (t.dims[a] !== n || shape.join() !== layout.shape.join() || t.type !== layout.dtype) {
    throw new NeurotapError(
      'E_INPUT_SHAPE',
      `Key '${layout.key}' is ${t.type} [${t.dims.join(', ')}] in chunk ${chunk}; expected ${layout.dtype} with ${n} items on axis ${a} and item shape [${layout.shape.join(', ')}].`,
      {
        hint: 'Every item must have the same shape (resize images to one size with the `size` image option; pad token sequences to one length).',
        details: { key: layout.key, chunk },
      },
    );
  }
  if (a === 0) return t;
  const data = t.data as TypedArray;
  const outer = sizeOf(t.dims.slice(0, a));
  const inner = sizeOf(t.dims.slice(a + 1));
  const out = new (data.constructor as new (length: number) => TypedArray)(data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++)
      (out as Float32Array).set(
        (data as Float32Array).subarray((o * n + i) * inner, (o * n + i + 1) * inner),
        (i * outer + o) * inner,
      );
  }
  return { type: t.type, dims: [n, ...shape], data: out };
}
