/**
 * Checks and converts user feeds before ONNX Runtime sees them, so a wrong name, dtype or shape
 * gives a NeurotapError naming what was expected and what was given, never a native crash.
 */
import { NeurotapError } from '../errors.js';
import { declaredElemType, declaredShape, type GraphIndex } from '../graph/graph-index.js';
import type { Runtime, Tensor } from '../runtime/runtime.js';
import { dtypeOfArray, ONNX_DTYPE, sizeOf, type DType, type HostTensor, type PlainTensor } from '../tensor.js';

/** An onnxruntime Tensor, a `{ data, dims }` object, or a HostTensor as neurotap's file readers return. */
/** A plain number[] of the input's declared element type (converted to its typed array), with its dims. */
export interface ArrayFeed {
  readonly data: readonly number[];
  readonly dims: readonly number[];
}

export type Feed = Tensor | PlainTensor | HostTensor | ArrayFeed;
export type Feeds = Record<string, Feed>;

export function prepareFeeds(index: GraphIndex, runtime: Runtime, feeds: Feeds): Record<string, Tensor> {
  if (typeof feeds !== 'object' || feeds === null) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Feeds must be an object of tensors keyed by input name, got ${String(feeds)}.`,
      {
        hint: `Pass { ${index.inputs.map((n) => `'${n}': tensor`).join(', ')} }.`,
      },
    );
  }
  const unknown = Object.keys(feeds).filter((k) => !index.inputs.includes(k));
  if (unknown.length) {
    throw new NeurotapError(
      'E_UNKNOWN_INPUT',
      `The model has no input named ${unknown.map((n) => `'${n}'`).join(', ')}; its inputs are ${index.inputs.map((n) => `'${n}'`).join(', ')}.`,
      {
        hint: 'Key the feeds by the ONNX input names (`neurotap layers MODEL` lists them).',
      },
    );
  }
  // Own properties into a null-prototype object: inputs named constructor, toString or __proto__ are plain names.
  const out: Record<string, Tensor> = Object.create(null);
  for (const name of index.inputs) {
    const feed = Object.hasOwn(feeds, name) ? feeds[name] : undefined;
    if (feed === undefined) {
      throw new NeurotapError(
        'E_MISSING_INPUT',
        `Input '${name}' has no feed; expected ${describeInput(index, name)}.`,
        {
          hint: `Give a tensor for every input: ${index.inputs.join(', ')}.`,
        },
      );
    }
    out[name] = toTensor(index, runtime, name, feed);
  }
  return out;
}

export function describeInput(index: GraphIndex, name: string): string {
  const type = index.types.get(name);
  const dtype = ONNX_DTYPE[declaredElemType(type) ?? 0] ?? 'unknown dtype';
  const shape = declaredShape(type);
  return `${dtype} [${shape ? shape.join(', ') : '?'}]`;
}

function toTensor(index: GraphIndex, runtime: Runtime, name: string, feed: Feed): Tensor {
  if (typeof feed !== 'object' || feed === null || !('dims' in feed) || !('data' in feed)) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Feed '${name}' must be a Tensor or { data, dims }, got ${typeof feed}.`,
      {
        hint: 'Use new Tensor(type, data, dims) or { data: Float32Array, dims: [...] }.',
      },
    );
  }
  const type = index.types.get(name);
  const expected = ONNX_DTYPE[declaredElemType(type) ?? 0];
  // A string input takes a string[] as it is (what ONNX Runtime's JS API wants for strings).
  const strings = expected === 'string' && Array.isArray(feed.data) && feed.data.every((s) => typeof s === 'string');
  if (Array.isArray(feed.data) && !strings)
    return toTensor(index, runtime, name, { ...feed, data: fromArray(name, feed.data, expected) });
  if (!strings && !ArrayBuffer.isView(feed.data) && !(feed instanceof runtime.Tensor)) {
    const what = (feed.data as object | null)?.constructor?.name ?? String(feed.data);
    throw new NeurotapError(
      'E_INPUT_DTYPE',
      `Input '${name}' expects ${expected ?? 'a typed array'}; its data is ${what}.`,
      {
        hint: 'Pass data as a typed array (Float32Array, BigInt64Array...) or a plain number[] of the declared type.',
        details: { input: name, expected, given: what },
      },
    );
  }
  const given = (
    strings ? 'string' : 'type' in feed && feed.type ? feed.type : dtypeOfArray(feed.data as PlainTensor['data'])
  ) as DType;
  const dims = [...feed.dims];
  if (expected && expected !== given) {
    throw new NeurotapError('E_INPUT_DTYPE', `Input '${name}' expects ${expected}, got ${given}.`, {
      hint: `Convert the data, e.g. ${expected === 'float32' ? 'Float32Array.from(data)' : `a ${expected} typed array`}.`,
      details: { input: name, expected, given },
    });
  }
  checkShape(index, name, dims);
  const length = (feed.data as ArrayLike<unknown>).length;
  if (length !== sizeOf(dims)) {
    throw new NeurotapError(
      'E_INPUT_SHAPE',
      `Input '${name}' has ${length} elements but dims [${dims.join(', ')}] need ${sizeOf(dims)}.`,
      {
        hint: 'The data length must equal the product of the dims.',
      },
    );
  }
  if (feed instanceof runtime.Tensor) return feed as Tensor;
  return new runtime.Tensor(given as Tensor.Type, feed.data as Tensor.DataType, dims);
}

/** Typed arrays for each dtype a plain number[] can become, with the range integers must fit. */
const FROM_NUMBERS: Partial<Record<DType, { make: (n: number[]) => PlainTensor['data']; min?: number; max?: number }>> =
  {
    float32: { make: (n) => Float32Array.from(n) },
    float64: { make: (n) => Float64Array.from(n) },
    int8: { make: (n) => Int8Array.from(n), min: -128, max: 127 },
    uint8: { make: (n) => Uint8Array.from(n), min: 0, max: 255 },
    int16: { make: (n) => Int16Array.from(n), min: -32768, max: 32767 },
    uint16: { make: (n) => Uint16Array.from(n), min: 0, max: 65535 },
    int32: { make: (n) => Int32Array.from(n), min: -(2 ** 31), max: 2 ** 31 - 1 },
    uint32: { make: (n) => Uint32Array.from(n), min: 0, max: 2 ** 32 - 1 },
    int64: { make: (n) => BigInt64Array.from(n, BigInt), min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
    bool: { make: (n) => Uint8Array.from(n), min: 0, max: 1 },
  };

/**
 * A plain `number[]` becomes the declared dtype's typed array: the type is the graph's, so nothing is
 * guessed; integers must be whole and in range, and anything else is refused with what it holds.
 */
function fromArray(name: string, data: unknown[], expected: DType | undefined): PlainTensor['data'] {
  const target = expected ? FROM_NUMBERS[expected] : undefined;
  const refuse = (why: string) =>
    new NeurotapError('E_INPUT_DTYPE', `Input '${name}' expects ${expected ?? 'an undeclared type'}; ${why}.`, {
      hint: `Pass a typed array${expected === 'float32' ? ', e.g. Float32Array.from(values)' : ''}.`,
      details: { input: name, expected, given: 'Array' },
    });
  if (!target) throw refuse('a plain array cannot be converted to it');
  const bad = data.findIndex(
    (v) =>
      typeof v !== 'number' ||
      (target.min !== undefined && (!Number.isInteger(v) || v < target.min || v > (target.max ?? Infinity))),
  );
  if (bad >= 0) throw refuse(`element ${bad} of the plain array is ${JSON.stringify(data[bad]) ?? String(data[bad])}`);
  return target.make(data as number[]);
}

function checkShape(index: GraphIndex, name: string, dims: number[]): void {
  const shape = declaredShape(index.types.get(name));
  if (!shape) return;
  const fits = shape.length === dims.length && shape.every((d, i) => typeof d !== 'number' || d === dims[i]);
  if (!fits) {
    throw new NeurotapError(
      'E_INPUT_SHAPE',
      `Input '${name}' expects shape [${shape.join(', ')}], got [${dims.join(', ')}].`,
      {
        hint: 'Named dimensions (e.g. batch) take any size; numbered ones must match.',
        details: { input: name, expected: shape, given: dims },
      },
    );
  }
}
