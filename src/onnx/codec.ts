/**
 * Decode and encode ONNX models with the field tables of schema.ts.
 *
 * Decoding keeps every bytes field (tensor payloads above all) as a view into the input.
 * Encoding measures the whole message tree first, then writes it into one buffer: each payload is
 * copied exactly once, where a generic protobuf writer copies it again at every nesting level.
 */
import { notOnnx } from './sniff.js';
import { NeurotapError } from '../errors.js';
import { Model, type FieldSpec, type MessageSpec } from './schema.js';
import type { Message, ModelProto } from './types.js';
import { WireReader, WireType, WireWriter, int64Size, utf8, varintSize, type Int64 } from './wire.js';

type Fields = Record<string, unknown> & Message;

const byNumberCache = new WeakMap<MessageSpec, Map<number, FieldSpec>>();
function fieldsByNumber(spec: MessageSpec): Map<number, FieldSpec> {
  let map = byNumberCache.get(spec);
  if (!map) {
    map = new Map(spec.fields.map((field) => [field.no, field]));
    byNumberCache.set(spec, map);
  }
  return map;
}

function expectedWireType(field: FieldSpec): WireType {
  switch (field.type) {
    case 'int64':
    case 'int32':
      return WireType.Varint;
    case 'float':
      return WireType.Fixed32;
    case 'double':
      return WireType.Fixed64;
    default:
      return WireType.Bytes;
  }
}

function readScalar(reader: WireReader, type: FieldSpec['type']): unknown {
  switch (type) {
    case 'int64':
      return reader.int64();
    case 'int32':
      return reader.int32();
    case 'float':
      return reader.float();
    case 'double':
      return reader.double();
    case 'string':
      return reader.string();
    default:
      return reader.bytes();
  }
}

/** Real models nest a few dozen levels (subgraphs in subgraphs); deeper means corrupt or hostile data. */
const MAX_DEPTH = 256;

export function decodeMessage(spec: MessageSpec, reader: WireReader, end: number, depth = 0): Fields {
  if (depth > MAX_DEPTH) {
    throw new NeurotapError('E_NOT_ONNX', `Messages nest deeper than ${MAX_DEPTH} levels at byte ${reader.pos}.`, {
      hint: 'The file is corrupted or is not an ONNX model.',
    });
  }
  const out: Fields = {};
  const fields = fieldsByNumber(spec);
  while (reader.pos < end) {
    const tagStart = reader.pos;
    const tag = reader.uint();
    const field = fields.get(Math.floor(tag / 8));
    const wireType = tag & 7;
    if (!field || (wireType !== expectedWireType(field) && !(field.repeated && wireType === WireType.Bytes))) {
      (out.$unknown ??= []).push(reader.skip(tagStart, wireType));
      continue;
    }
    const value = readField(field, wireType, reader, depth);
    if (field.repeated) {
      const list = (out[field.name] ??= []) as unknown[];
      if (
        Array.isArray(value) &&
        typeof field.type === 'string' &&
        wireType === WireType.Bytes &&
        !isBytesType(field)
      ) {
        for (const v of value) list.push(v);
      } else list.push(value);
    } else out[field.name] = value;
  }
  if (reader.pos !== end)
    throw new NeurotapError('E_TRUNCATED', `A ${spec.name} field runs past its message's end.`, {
      hint: 'The file is corrupted.',
    });
  return out;
}

function isBytesType(field: FieldSpec): boolean {
  return field.type === 'string' || field.type === 'bytes';
}

function readField(field: FieldSpec, wireType: number, reader: WireReader, depth: number): unknown {
  if (typeof field.type === 'function') {
    const len = reader.uint();
    const end = reader.pos + len;
    if (end > reader.end)
      throw new NeurotapError('E_TRUNCATED', `A ${field.type().name} message runs past the end of the data.`, {
        hint: 'The file is truncated or is not an ONNX model.',
      });
    return decodeMessage(field.type(), reader, end, depth + 1);
  }
  if (wireType === WireType.Bytes && !isBytesType(field)) {
    // A packed run of numbers.
    const len = reader.uint();
    const end = reader.pos + len;
    if (end > reader.end)
      throw new NeurotapError('E_TRUNCATED', 'A packed field runs past the end of the data.', {
        hint: 'The file is truncated.',
      });
    const values: unknown[] = [];
    while (reader.pos < end) values.push(readScalar(reader, field.type));
    return values;
  }
  return readScalar(reader, field.type);
}

/** Decodes an ONNX ModelProto; bytes fields stay views into `bytes`. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const other = notOnnx(bytes);
  if (other)
    throw new NeurotapError('E_NOT_ONNX', `Expected an ONNX model; the file is ${other.what}.`, {
      hint: other.hint,
      details: { found: other.what },
    });
  const reader = new WireReader(bytes);
  return decodeMessage(Model, reader, bytes.length) as ModelProto;
}

// ---- encoding -------------------------------------------------------------------------------

/** Remembers each message's size and each string's bytes from the measuring pass. */
interface Measures {
  sizes: Map<object, number>;
  strings: Map<string, Uint8Array>;
}

function stringBytes(s: string, m: Measures): Uint8Array {
  let b = m.strings.get(s);
  if (!b) {
    b = utf8(s);
    m.strings.set(s, b);
  }
  return b;
}

function scalarSize(type: FieldSpec['type'], v: unknown, m: Measures): number {
  switch (type) {
    case 'int64':
    case 'int32':
      return int64Size(v as Int64);
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'string': {
      const n = stringBytes(v as string, m).length;
      return varintSize(n) + n;
    }
    default: {
      const n = (v as Uint8Array).length;
      return varintSize(n) + n;
    }
  }
}

function fieldSize(field: FieldSpec, value: unknown, m: Measures): number {
  const tagSize = varintSize(field.no * 8);
  if (typeof field.type === 'function') {
    const type = field.type;
    const one = (msg: unknown) => {
      const n = measure(type(), msg as Fields, m);
      return tagSize + varintSize(n) + n;
    };
    return field.repeated ? (value as unknown[]).reduce<number>((sum, v) => sum + one(v), 0) : one(value);
  }
  if (!field.repeated) return tagSize + scalarSize(field.type, value, m);
  const list = value as unknown[];
  if (list.length === 0) return 0;
  const payload = list.reduce<number>((sum, v) => sum + scalarSize(field.type, v, m), 0);
  return field.packed ? tagSize + varintSize(payload) + payload : tagSize * list.length + payload;
}

/** Fields in number order, as protobuf's own writers emit them: untouched models re-encode byte for byte. */
const sortedCache = new WeakMap<MessageSpec, readonly FieldSpec[]>();
function fieldsInOrder(spec: MessageSpec): readonly FieldSpec[] {
  let list = sortedCache.get(spec);
  if (!list) {
    list = [...spec.fields].sort((a, b) => a.no - b.no);
    sortedCache.set(spec, list);
  }
  return list;
}

function measure(spec: MessageSpec, msg: Fields, m: Measures): number {
  let size = 0;
  for (const field of fieldsInOrder(spec)) {
    const value = msg[field.name];
    if (value !== undefined) size += fieldSize(field, value, m);
  }
  for (const raw of msg.$unknown ?? []) size += raw.length;
  m.sizes.set(msg, size);
  return size;
}

function writeScalar(w: WireWriter, type: FieldSpec['type'], v: unknown, m: Measures): void {
  switch (type) {
    case 'int64':
    case 'int32':
      return w.int64(v as Int64);
    case 'float':
      return w.float(v as number);
    case 'double':
      return w.double(v as number);
    case 'string': {
      const b = stringBytes(v as string, m);
      w.uint(b.length);
      return w.raw(b);
    }
    default: {
      const b = v as Uint8Array;
      w.uint(b.length);
      return w.raw(b);
    }
  }
}

function writeField(w: WireWriter, field: FieldSpec, value: unknown, m: Measures): void {
  if (typeof field.type === 'function') {
    const spec = field.type();
    for (const msg of field.repeated ? (value as Fields[]) : [value as Fields]) {
      w.tag(field.no, WireType.Bytes);
      w.uint(m.sizes.get(msg)!);
      writeMessage(w, spec, msg, m);
    }
    return;
  }
  const wireType = expectedWireType(field);
  if (!field.repeated) {
    w.tag(field.no, wireType);
    return writeScalar(w, field.type, value, m);
  }
  const list = value as unknown[];
  if (list.length === 0) return;
  if (field.packed) {
    w.tag(field.no, WireType.Bytes);
    w.uint(list.reduce<number>((sum, v) => sum + scalarSize(field.type, v, m), 0));
    for (const v of list) writeScalar(w, field.type, v, m);
    return;
  }
  for (const v of list) {
    w.tag(field.no, wireType);
    writeScalar(w, field.type, v, m);
  }
}

function writeMessage(w: WireWriter, spec: MessageSpec, msg: Fields, m: Measures): void {
  for (const field of fieldsInOrder(spec)) {
    const value = msg[field.name];
    if (value !== undefined) writeField(w, field, value, m);
  }
  for (const raw of msg.$unknown ?? []) w.raw(raw);
}

/** Encodes a ModelProto into one new buffer; tensor payloads are copied once, straight into it. */
export function encodeModel(model: ModelProto): Uint8Array {
  const m: Measures = { sizes: new Map(), strings: new Map() };
  const size = measure(Model, model as Fields, m);
  const writer = new WireWriter(new Uint8Array(size));
  writeMessage(writer, Model, model as Fields, m);
  if (writer.pos !== size) throw new Error(`internal: encoded ${writer.pos} bytes, measured ${size}`);
  return writer.buf;
}
