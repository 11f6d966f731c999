/**
 * safetensors reading and writing (isomorphic). Layout: an 8-byte little-endian header length,
 * a JSON header, then one byte buffer that the header's `data_offsets` index into.
 * https://github.com/huggingface/safetensors#format
 *
 * The one home of the format: whole files (`parseSafetensors`, `encodeSafetensors`) and the header
 * of a streamed file (`planSafetensors`: tensors of known shapes, written in place later).
 */
import { NeurotapError } from '../errors.js';
import { sizeOf, type DType, type HostTensor } from '../tensor.js';
import { bytesOf, checkTensor, ELEMENT, typedArrayAt, unsupportedDType, type NumericDType } from './elements.js';

const CODE: Record<NumericDType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int8: 'I8',
  uint8: 'U8',
  int16: 'I16',
  uint16: 'U16',
  int32: 'I32',
  uint32: 'U32',
  int64: 'I64',
  uint64: 'U64',
  bool: 'BOOL',
};
const DTYPE_OF_CODE = new Map(Object.entries(CODE).map(([dtype, code]) => [code, dtype as NumericDType]));
const METADATA_KEY = '__metadata__';
// The reference implementation refuses larger headers; so do we, before allocating a string for one.
const MAX_HEADER_BYTES = 100_000_000;

export interface Safetensors {
  /** In file order (by data offset). */
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

interface Entry {
  name: string;
  type: NumericDType;
  dims: number[];
  begin: number;
  end: number;
}

function bad(message: string, hint = 'The file is corrupt or not a safetensors file; write it again.'): NeurotapError {
  return new NeurotapError('E_BAD_FILE', message, { hint });
}

function readHeaderJson(bytes: Uint8Array): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) throw bad(`Expected a safetensors file of at least 8 bytes; got ${bytes.length}.`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(bytes.length - 8, MAX_HEADER_BYTES))) {
    throw bad(
      `Expected a safetensors header of at most ${Math.min(bytes.length - 8, MAX_HEADER_BYTES)} bytes; the file claims ${length}.`,
    );
  }
  const dataStart = 8 + Number(length);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (cause) {
    throw bad(`Expected a JSON safetensors header; could not parse it: ${(cause as Error).message}.`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw bad(`Expected the safetensors header to be a JSON object; got ${JSON.stringify(header)?.slice(0, 80)}.`);
  }
  return { header: header as Record<string, unknown>, dataStart };
}

function readMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const ok =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string');
  if (!ok)
    throw bad(`Expected "${METADATA_KEY}" to map strings to strings; got ${JSON.stringify(value).slice(0, 80)}.`);
  return { ...(value as Record<string, string>) };
}

function readEntry(name: string, value: unknown, bufferLength: number): Entry {
  const info = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const type = DTYPE_OF_CODE.get(String(info.dtype));
  if (type === undefined) {
    throw bad(
      `Tensor "${name}" has dtype ${JSON.stringify(info.dtype)}; expected one of ${[...DTYPE_OF_CODE.keys()].join(' ')}.`,
      'Convert the tensor to a supported dtype before saving (FP8 and complex types are not supported).',
    );
  }
  const dims = info.shape;
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`Tensor "${name}" has shape ${JSON.stringify(dims)}; expected a list of non-negative integers.`);
  }
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o))) {
    throw bad(`Tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end].`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin < 0 || begin > end || end > bufferLength) {
    throw bad(
      `Tensor "${name}" has data_offsets [${begin}, ${end}]; expected 0 <= begin <= end <= ${bufferLength} (the data size).`,
      'The file is truncated or its header is corrupt; write it again.',
    );
  }
  const expected = sizeOf(dims) * ELEMENT[type].bytes;
  if (end - begin !== expected) {
    throw bad(
      `Tensor "${name}" of shape [${dims.join(', ')}] and dtype ${CODE[type]} needs ${expected} bytes; its data_offsets span ${end - begin}.`,
    );
  }
  return { name, type, dims: dims as number[], begin, end };
}

/** Reads a safetensors file; tensor data are views into `bytes` where aligned, otherwise copies. */
export function parseSafetensors(bytes: Uint8Array): Safetensors {
  const { header, dataStart } = readHeaderJson(bytes);
  const bufferLength = bytes.length - dataStart;
  const metadata = readMetadata(header[METADATA_KEY]);
  // Validate every entry before reading any data, so a bad header never yields partial results.
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, value]) => readEntry(name, value, bufferLength))
    .sort((a, b) => a.begin - b.begin);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const count = sizeOf(e.dims);
    tensors.set(e.name, { type: e.type, dims: e.dims, data: typedArrayAt(bytes, dataStart + e.begin, count, e.type) });
  }
  return { tensors, metadata };
}

function checkMetadata(metadata: Record<string, string>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `safetensors metadata must map strings to strings; "${key}" is a ${typeof value}.`,
        {
          hint: 'Stringify the value, e.g. with JSON.stringify().',
        },
      );
    }
  }
}

function checkNames(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === METADATA_KEY || seen.has(name)) {
      const problem = seen.has(name) ? 'is given twice' : 'is reserved for metadata';
      throw new NeurotapError('E_BAD_ARGUMENT', `Expected unique tensor names for safetensors; "${name}" ${problem}.`, {
        hint: 'Rename the tensor.',
      });
    }
    seen.add(name);
  }
}

export interface SafetensorsPlan {
  header: Uint8Array;
  /** Absolute byte offset of each tensor's data in the file. */
  offsets: Map<string, number>;
  totalBytes: number;
}

/**
 * The header of a safetensors file holding tensors of these shapes, and where each one's data goes.
 * Tensors are laid out widest element first (as the reference implementation does) so that every
 * tensor's data is aligned once the header is padded to 8.
 */
export function planSafetensors(
  tensors: readonly { name: string; dtype: DType; dims: readonly number[] }[],
  metadata: Record<string, string> = {},
): SafetensorsPlan {
  checkMetadata(metadata);
  checkNames(tensors.map((t) => t.name));
  for (const t of tensors) if (!(t.dtype in CODE)) throw unsupportedDType(t.dtype, 'safetensors');
  const ordered = tensors
    .map((t, index) => ({ ...t, type: t.dtype as NumericDType, index }))
    .sort((a, b) => ELEMENT[b.type].bytes - ELEMENT[a.type].bytes || a.index - b.index);
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { [METADATA_KEY]: metadata } : {};
  const relative = new Map<string, number>();
  let offset = 0;
  for (const t of ordered) {
    const byteLength = sizeOf(t.dims) * ELEMENT[t.type].bytes;
    header[t.name] = { dtype: CODE[t.type], shape: [...t.dims], data_offsets: [offset, offset + byteLength] };
    relative.set(t.name, offset);
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength).fill(0x20, 8); // spaces: valid JSON whitespace
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  const offsets = new Map([...relative].map(([name, o]) => [name, 8 + headerLength + o]));
  return { header: out, offsets, totalBytes: 8 + headerLength + offset };
}

/** Writes a safetensors file (laid out as `planSafetensors` plans it). */
export function encodeSafetensors(
  entries: Map<string, HostTensor> | [string, HostTensor][],
  metadata: Record<string, string> = {},
): Uint8Array {
  const list = [...entries];
  for (const [name, tensor] of list) checkTensor(`Tensor "${name}"`, tensor);
  const plan = planSafetensors(
    list.map(([name, t]) => ({ name, dtype: t.type, dims: t.dims })),
    metadata,
  );
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.header, 0);
  for (const [name, t] of list)
    out.set(bytesOf(t.data as Exclude<HostTensor['data'], string[]>), plan.offsets.get(name)!);
  return out;
}
