/**
 * NumPy `.npy` reading and writing (isomorphic: no Node imports).
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Also home of the byte <-> typed array helpers shared by the npz and safetensors codecs.
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type DType, type HostTensor, type TypedArray } from '../tensor.js';
import { bfloat16ToFloat32 } from '../tensor-summary.js';

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

function badNpy(message: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', message, { hint });
}

interface NpyHeader {
  type: NumericDType;
  bigEndian: boolean;
  dims: number[];
  dataStart: number;
}

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

function parseHeader(bytes: Uint8Array): NpyHeader {
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

/** Reads an .npy file. The data is a view into `bytes` when aligned and little-endian, otherwise a copy. */
export function parseNpy(bytes: Uint8Array): HostTensor {
  const { type, bigEndian, dims, dataStart } = parseHeader(bytes);
  const count = sizeOf(dims);
  const byteLength = count * ELEMENT[type].bytes;
  if (bytes.length - dataStart < byteLength) {
    throw badNpy(
      `Expected ${byteLength} data bytes for shape (${dims.join(', ')}) of ${type}; got ${bytes.length - dataStart}.`,
      'The file is truncated; write it again.',
    );
  }
  if (!bigEndian) return { type, dims, data: typedArrayAt(bytes, dataStart, count, type) };
  const swapped = new Uint8Array(byteLength);
  swapped.set(bytes.subarray(dataStart, dataStart + byteLength));
  swapBytes(swapped, ELEMENT[type].bytes);
  return { type, dims, data: typedArrayAt(swapped, 0, count, type) };
}

function headerText(descr: string, dims: readonly number[]): string {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
}

/**
 * Writes an .npy file (version 1.0, header padded to 64 bytes as numpy does).
 * numpy has no bfloat16, so bfloat16 tensors are widened to float32 ('<f4'), which is exact.
 */
export function encodeNpy(t: HostTensor): Uint8Array {
  checkTensor('The tensor', t);
  const type = t.type === 'bfloat16' ? 'float32' : t.type;
  const data = t.type === 'bfloat16' ? bfloat16ToFloat32(t.data as Uint16Array) : t.data;
  const descr = (ELEMENT[type].bytes === 1 ? '|' : '<') + NPY_CODE[type];
  const text = headerText(descr, t.dims);
  const paddedLength = (preamble: number) =>
    Math.ceil((preamble + text.length + 1) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - preamble;
  // Version 2.0 only when the header cannot fit 1.0's 16-bit length (thousands of dims).
  const version = paddedLength(10) <= 0xffff ? 1 : 2;
  const preamble = version === 1 ? 10 : 12;
  const header = `${text.padEnd(paddedLength(preamble) - 1, ' ')}\n`;
  const total = preamble + header.length;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(bytesOf(data), total);
  return out;
}
