/**
 * Headers for streamed `.npy` and `.safetensors` outputs (isomorphic). Streaming needs the header
 * before the data, with the final shape, which is known up front: items x the item shape from the
 * layout. The data is then written in place, batch by batch.
 */
import { NeurotapError } from '../errors.js';
import { ELEMENT, type NumericDType } from '../formats/npy.js';
import { sizeOf, type DType } from '../tensor.js';

/** numpy `descr` of each dtype numpy has (little-endian; one-byte types have no byte order). */
export const NPY_DESCR: Partial<Record<DType, string>> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int8: '|i1',
  uint8: '|u1',
  bool: '|b1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
};

const SAFETENSORS_DTYPE: Partial<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
  int16: 'I16',
  uint16: 'U16',
  int32: 'I32',
  uint32: 'U32',
  int64: 'I64',
  uint64: 'U64',
};

export function elementBytes(dtype: DType): number {
  return ELEMENT[dtype as NumericDType]?.bytes ?? 0;
}

function unsupported(dtype: DType, format: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', `${format} cannot store ${dtype} arrays.`, {
    hint: 'Write a .safetensors file, which stores every numeric dtype, or leave the key out with --layers.',
  });
}

/** An .npy version 1.0 header (version 2.0 past 64 KiB), padded to 64 bytes as numpy pads it. */
export function encodeNpyHeader(dtype: DType, dims: readonly number[]): Uint8Array {
  const descr = NPY_DESCR[dtype];
  if (!descr) throw unsupported(dtype, '.npy');
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  const text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const preamble = text.length + 11 < 0xffff ? 10 : 12;
  const total = Math.ceil((preamble + text.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, preamble === 10 ? 1 : 2, 0]);
  const view = new DataView(out.buffer);
  if (preamble === 10) view.setUint16(8, total - preamble, true);
  else view.setUint32(8, total - preamble, true);
  const padded = `${text.padEnd(total - preamble - 1, ' ')}\n`;
  for (let i = 0; i < padded.length; i++) out[preamble + i] = padded.charCodeAt(i);
  return out;
}

export interface SafetensorsPlan {
  header: Uint8Array;
  /** Absolute byte offset of each tensor's data in the file. */
  offsets: Map<string, number>;
  totalBytes: number;
}

/**
 * A safetensors header for tensors of known shapes, laid out widest element first so every
 * tensor's data stays aligned (as the reference implementation orders them).
 */
export function planSafetensors(
  tensors: readonly { name: string; dtype: DType; dims: readonly number[] }[],
  metadata: Record<string, string>,
): SafetensorsPlan {
  const ordered = tensors
    .map((t, i) => ({ ...t, i }))
    .sort((a, b) => elementBytes(b.dtype) - elementBytes(a.dtype) || a.i - b.i);
  const header: Record<string, unknown> = { __metadata__: metadata };
  const relative = new Map<string, number>();
  let offset = 0;
  for (const t of ordered) {
    const code = SAFETENSORS_DTYPE[t.dtype];
    if (!code) throw unsupported(t.dtype, 'safetensors');
    const bytes = sizeOf(t.dims) * elementBytes(t.dtype);
    header[t.name] = { dtype: code, shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    relative.set(t.name, offset);
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + length).fill(0x20, 8); // spaces pad the JSON, as the format allows
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(json, 8);
  const offsets = new Map([...relative].map(([name, o]) => [name, 8 + length + o]));
  return { header: out, offsets, totalBytes: 8 + length + offset };
}
