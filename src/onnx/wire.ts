/**
 * Protocol-buffer wire format: varints, fixed-width numbers and length-delimited fields.
 * Bytes fields come back as subarrays of the input, so tensor payloads are never copied.
 */
import { NeurotapError } from '../errors.js';

export enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** An int64 value: a number when it is a safe integer, a bigint otherwise (e.g. INT64_MAX). */
export type Int64 = number | bigint;

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

export class WireReader {
  pos: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private truncated(what: string): never {
    throw new NeurotapError(
      'E_TRUNCATED',
      `The protobuf data ends inside a ${what} at byte ${this.pos} of ${this.end}.`,
      {
        hint: 'The file is truncated or is not an ONNX model: re-export it or copy it again.',
      },
    );
  }

  /** Reads a varint as an unsigned number; exact below 2^53. */
  uint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.truncated('varint');
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    return this.truncated('varint longer than 10 bytes');
  }

  /** Reads a varint as a signed int64 (two's complement), as a bigint only when it is unsafe. */
  int64(): Int64 {
    const start = this.pos;
    const value = this.uint();
    if (value <= Number.MAX_SAFE_INTEGER) return value;
    this.pos = start;
    let big = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buf[this.pos++];
      big |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (byte < 0x80) break;
    }
    const signed = BigInt.asIntN(64, big);
    return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(signed)
      : signed;
  }

  /** int32 fields are sign-extended to 64 bits on the wire. */
  int32(): number {
    return Number(BigInt.asIntN(32, BigInt(this.int64())));
  }

  float(): number {
    if (this.pos + 4 > this.end) this.truncated('float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.truncated('double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const len = this.uint();
    if (this.pos + len > this.end) this.truncated('length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return utf8Decoder.decode(this.bytes());
  }

  /** Skips one field's value and returns the raw bytes of the whole field (tag included). */
  skip(tagStart: number, wireType: number): Uint8Array {
    if (wireType === WireType.Varint) this.uint();
    else if (wireType === WireType.Fixed64) this.pos += 8;
    else if (wireType === WireType.Bytes) this.bytes();
    else if (wireType === WireType.Fixed32) this.pos += 4;
    else {
      throw new NeurotapError('E_NOT_ONNX', `Unsupported protobuf wire type ${wireType} at byte ${tagStart}.`, {
        hint: 'The file is not an ONNX model (or is corrupted).',
      });
    }
    if (this.pos > this.end) this.truncated('field');
    return this.buf.subarray(tagStart, this.pos);
  }
}

const utf8Encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Size in bytes of a varint holding an unsigned value. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Size of a signed int64 varint: negatives always take 10 bytes. */
export function int64Size(v: Int64): number {
  if (typeof v === 'bigint') return v < 0n ? 10 : bigVarintSize(v);
  return v < 0 ? 10 : varintSize(v);
}

function bigVarintSize(v: bigint): number {
  let n = 1;
  while (v >= 128n) {
    v >>= 7n;
    n++;
  }
  return n;
}

export class WireWriter {
  pos = 0;
  private readonly view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  uint(v: number): void {
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  int64(v: Int64): void {
    if (typeof v === 'number' && v >= 0) return this.uint(v);
    let big = BigInt.asUintN(64, BigInt(v));
    while (big >= 128n) {
      this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buf[this.pos++] = Number(big);
  }

  tag(fieldNo: number, wireType: WireType): void {
    this.uint(fieldNo * 8 + wireType);
  }

  float(v: number): void {
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}
