/**
 * Elements as bytes, shared by the npy, npz and safetensors codecs (isomorphic): the width and
 * typed array of each numeric dtype, views over file bytes, and the check that a tensor can be stored.
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type DType, type HostTensor, type TypedArray } from '../tensor.js';

export type NumericDType = Exclude<DType, 'string'>;

type ArrayMaker = (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;

/** Bytes per element and the typed array that holds each dtype (float16/bfloat16 as raw bits). */
export const ELEMENT: Record<NumericDType, { bytes: number; make: ArrayMaker }> = {
  float32: { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  float64: { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  float16: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  bfloat16: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  int8: { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  uint8: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  bool: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  int16: { bytes: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  uint16: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  int32: { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  uint32: { bytes: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  int64: { bytes: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  uint64: { bytes: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
};

/** Bytes per element of `dtype`; 0 for strings, which no file format here stores. */
export function elementBytes(dtype: DType): number {
  return ELEMENT[dtype as NumericDType]?.bytes ?? 0;
}

/**
 * Typed array over `count` elements at `bytes[start..]`. A view when the absolute offset is
 * aligned for the element size (typed arrays refuse misaligned views); otherwise a copy.
 */
export function typedArrayAt(bytes: Uint8Array, start: number, count: number, type: NumericDType): TypedArray {
  const { bytes: width, make } = ELEMENT[type];
  const absolute = bytes.byteOffset + start;
  if (absolute % width === 0) return make(bytes.buffer, absolute, count);
  // Copy through a fresh Uint8Array: Buffer#slice would return a view, not a copy.
  const copy = new Uint8Array(count * width);
  copy.set(bytes.subarray(start, start + count * width));
  return make(copy.buffer, 0, count);
}

/** The raw bytes of a typed array, as a view (this assumes a little-endian host, as every JS engine in use is). */
export function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Checks that a tensor can be serialized: numeric, backed by the right typed array, sized as its
 * dims say. `label` starts the error message, e.g. 'Tensor "conv1"'.
 */
export function checkTensor(
  label: string,
  t: HostTensor,
): asserts t is HostTensor & { type: NumericDType; data: TypedArray } {
  if (t.type === 'string' || !(t.type in ELEMENT)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `${label} has dtype ${t.type}; expected a numeric dtype.`, {
      hint: 'String tensors cannot be stored in npy, npz or safetensors files; drop them or encode them yourself.',
    });
  }
  const data = t.data;
  if (Array.isArray(data) || data.BYTES_PER_ELEMENT !== ELEMENT[t.type].bytes) {
    const given = Array.isArray(data) ? 'an array of strings' : data.constructor.name;
    throw new NeurotapError('E_BAD_ARGUMENT', `${label} has dtype ${t.type} but its data is ${given}.`, {
      hint: 'Give data as the typed array of its dtype (float16, bfloat16 as Uint16Array; bool as Uint8Array).',
    });
  }
  if (data.length !== sizeOf(t.dims)) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `${label} has dims [${t.dims.join(', ')}] (${sizeOf(t.dims)} elements) but ${data.length} data elements.`,
      {
        hint: 'The data length must equal the product of the dims.',
      },
    );
  }
}

/** The format cannot hold this dtype (strings anywhere; bfloat16 in a streamed .npy). */
export function unsupportedDType(dtype: DType, format: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', `${format} cannot store ${dtype} arrays.`, {
    hint: 'Write a .safetensors file, which stores every numeric dtype, or leave this key out of the selection.',
  });
}
