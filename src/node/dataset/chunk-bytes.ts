/**
 * The bytes of one Zarr chunk file, as zarrita writes them with the `bytes` codec (little-endian,
 * no compression), without going through zarrita's chunk path (Node only): the chunk's batches'
 * own memory, handed to the store as the parts of one file, no copy. The last chunk of an array is
 * stored at full chunk size, its rows past the end filled with the array's fill value (NaN for
 * floats, else 0): one more part.
 */
import { NeurotapError } from '../../errors.js';
import { bytesOf } from '../../formats/elements.js';
import { sizeOf, type DType, type TypedArray } from '../../tensor.js';

// Zarr's bytes codec with endian 'little' is the typed array's memory on a little-endian host.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The fill value the writer declares for a dtype (see ZarrDatasetWriter.create). */
export function fillValueOf(dtype: DType): number | boolean {
  return dtype.startsWith('float') ? Number.NaN : dtype === 'bool' ? false : 0;
}

/**
 * A chunk file's parts: `rows` items of an array whose items are shaped `itemShape`, in a chunk of
 * `chunkRows` items.
 */
export function chunkParts(
  arrays: readonly TypedArray[],
  dtype: DType,
  itemShape: readonly number[],
  chunkRows: number,
): Uint8Array[] {
  if (!LITTLE_ENDIAN)
    throw new NeurotapError(
      'E_OUTPUT_PATH',
      'Expected a little-endian host to write Zarr chunks; this one is big-endian.',
      {
        hint: 'Write a .safetensors file or .npy files instead, or extract on an x86-64 or ARM machine.',
      },
    );
  const parts = arrays.map(bytesOf);
  const itemSize = sizeOf(itemShape);
  const missing = chunkRows * itemSize - arrays.reduce((n, a) => n + a.length, 0);
  if (missing > 0) parts.push(bytesOf(fillOf(arrays[0], dtype, missing)));
  return parts;
}

/** `length` elements of the fill value, in an array of the same kind as `like`. */
function fillOf(like: TypedArray, dtype: DType, length: number): TypedArray {
  const Typed = like.constructor as new (length: number) => TypedArray;
  const fill = new Typed(length);
  const value = fillValueOf(dtype);
  if (typeof value === 'number' && value !== 0) (fill as Float32Array).fill(value);
  return fill;
}
