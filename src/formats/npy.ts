/**
 * NumPy `.npy` reading and writing (isomorphic: no Node imports), the one home of the format: whole
 * files (`parseNpy`, `encodeNpy`) and the pieces that streamed files need (`encodeNpyHeader` before
 * rows written in place, `npyHeaderEnd` + `parseNpyHeader` + `decodeNpyData` to read rows).
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type DType, type HostTensor, type TypedArray } from '../tensor.js';
import { bfloat16ToFloat32 } from '../tensor-summary.js';
import { bytesOf, checkTensor, ELEMENT, typedArrayAt, unsupportedDType, type NumericDType } from './elements.js';

/** npy type codes (kind + size, without the byte-order character) by dtype. */
const NPY_CODE: Record<Exclude<NumericDType, 'bfloat16'>, string> = {
  float32: 'f4',
  float64: 'f8',
  float16: 'f2',
  int8: 'i1',
  uint8: 'u1',
  int16: 'i2',
  uint16: 'u2',
  int32: 'i4',
  uint32: 'u4',
  int64: 'i8',
  uint64: 'u8',
  bool: 'b1',
};
const DTYPE_OF_CODE = new Map(Object.entries(NPY_CODE).map(([dtype, code]) => [code, dtype as NumericDType]));

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const HEADER_ALIGNMENT = 64;

function badNpy(message: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', message, { hint });
}

export interface NpyHeader {
  type: NumericDType;
  bigEndian: boolean;
  dims: number[];
  dataStart: number;
}

/** Bytes that always hold the magic, version and header length (the preamble) of any version. */
export const NPY_PREAMBLE_BYTES = 12;

function readPreamble(bytes: Uint8Array): { headerStart: number; headerLength: number; utf8: boolean } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw badNpy(
      `Expected an .npy file starting with "\\x93NUMPY"; got ${bytes.length < 10 ? `only ${bytes.length} bytes` : 'other bytes'}.`,
      'Save arrays with numpy.save(); an .npz archive must be read with parseNpz().',
    );
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { headerStart: 10, headerLength: view.getUint16(8, true), utf8: false };
  if ((major === 2 || major === 3) && bytes.length >= 12)
    return { headerStart: 12, headerLength: view.getUint32(8, true), utf8: major === 3 };
  throw badNpy(
    `Expected .npy format version 1.0, 2.0 or 3.0; got version ${major}.${bytes[7]}.`,
    'Re-save the array with a current numpy.save().',
  );
}

/** Where the data starts (the header's end), from the first NPY_PREAMBLE_BYTES bytes of a file. */
export function npyHeaderEnd(preamble: Uint8Array): number {
  const { headerStart, headerLength } = readPreamble(preamble);
  return headerStart + headerLength;
}

/** The header of an .npy file; `bytes` must reach at least to the header's end. */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const { headerStart, headerLength, utf8 } = readPreamble(bytes);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw badNpy(
      `The .npy header claims ${headerLength} bytes but the file has only ${bytes.length - headerStart} after the preamble.`,
      'The file is truncated; write it again.',
    );
  }
  const text = new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw badNpy(
      `Expected an .npy header with descr, fortran_order and shape; got ${JSON.stringify(text.trim())}.`,
      'Structured (record) arrays are not supported; save plain numeric arrays.',
    );
  }
  if (fortran === 'True') {
    throw badNpy(
      'Expected a C-ordered .npy array; got fortran_order: True.',
      'Save np.ascontiguousarray(a) instead of a.',
    );
  }
  return { ...parseDescr(descr), dims: parseShape(shape), dataStart };
}

function parseDescr(descr: string): { type: NumericDType; bigEndian: boolean } {
  const order = descr[0];
  const type = DTYPE_OF_CODE.get(descr.slice(1));
  if (type === undefined || !'<>|='.includes(order)) {
    throw badNpy(
      `Expected an .npy dtype among ${Object.values(NPY_CODE).join(' ')}; got '${descr}'.`,
      'Convert the array first, e.g. a.astype(np.float32).',
    );
  }
  return { type, bigEndian: order === '>' && ELEMENT[type].bytes > 1 };
}

function parseShape(shape: string): number[] {
  const parts = shape
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const dims = parts.map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) {
    throw badNpy(
      `Expected an .npy shape of non-negative integers; got (${shape}).`,
      'The header is corrupt; write the file again.',
    );
  }
  return dims;
}

/** Reverses the byte order of each element in place (only used on a private copy). */
function swapBytes(bytes: Uint8Array, width: number): void {
  for (let start = 0; start < bytes.length; start += width) {
    for (let i = 0, j = width - 1; i < j; i++, j--) {
      const b = bytes[start + i];
      bytes[start + i] = bytes[start + j];
      bytes[start + j] = b;
    }
  }
}

/**
 * `count` elements of the header's dtype at `bytes[start..]`: a view when aligned and little-endian,
 * otherwise a copy (big-endian data is byte-swapped into it).
 */
export function decodeNpyData(header: NpyHeader, bytes: Uint8Array, start: number, count: number): TypedArray {
  if (!header.bigEndian) return typedArrayAt(bytes, start, count, header.type);
  const width = ELEMENT[header.type].bytes;
  const swapped = new Uint8Array(count * width);
  swapped.set(bytes.subarray(start, start + count * width));
  swapBytes(swapped, width);
  return typedArrayAt(swapped, 0, count, header.type);
}

/** Reads an .npy file. The data is a view into `bytes` when aligned and little-endian, otherwise a copy. */
export function parseNpy(bytes: Uint8Array): HostTensor {
  const header = parseNpyHeader(bytes);
  const { type, dims, dataStart } = header;
  const count = sizeOf(dims);
  const byteLength = count * ELEMENT[type].bytes;
  if (bytes.length - dataStart < byteLength) {
    throw badNpy(
      `Expected ${byteLength} data bytes for shape (${dims.join(', ')}) of ${type}; got ${bytes.length - dataStart}.`,
      'The file is truncated; write it again.',
    );
  }
  return { type, dims, data: decodeNpyData(header, bytes, dataStart, count) };
}

function headerText(descr: string, dims: readonly number[]): string {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
}

/**
 * The header of an .npy file holding `dims` of `dtype`: version 1.0, or 2.0 when the header
 * cannot fit 1.0's 16-bit length (thousands of dims), padded to 64 bytes as numpy pads it.
 */
export function encodeNpyHeader(dtype: DType, dims: readonly number[]): Uint8Array {
  if (dtype === 'string' || dtype === 'bfloat16' || !(dtype in NPY_CODE)) throw unsupportedDType(dtype, '.npy');
  const descr = (ELEMENT[dtype].bytes === 1 ? '|' : '<') + NPY_CODE[dtype];
  const text = headerText(descr, dims);
  const paddedLength = (preamble: number) =>
    Math.ceil((preamble + text.length + 1) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - preamble;
  const version = paddedLength(10) <= 0xffff ? 1 : 2;
  const preamble = version === 1 ? 10 : 12;
  const header = `${text.padEnd(paddedLength(preamble) - 1, ' ')}\n`;
  const out = new Uint8Array(preamble + header.length);
  out.set(MAGIC, 0);
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  return out;
}

/** Writes an .npy file. numpy has no bfloat16, so bfloat16 tensors are widened to float32 ('<f4'), which is exact. */
export function encodeNpy(t: HostTensor): Uint8Array {
  checkTensor('The tensor', t);
  const type = t.type === 'bfloat16' ? 'float32' : t.type;
  const data = t.type === 'bfloat16' ? bfloat16ToFloat32(t.data as Uint16Array) : t.data;
  const header = encodeNpyHeader(type, t.dims);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(bytesOf(data), header.length);
  return out;
}
