/**
 * Summary statistics and float decoding for host tensors (isomorphic: no Node imports).
 */
import { NeurotapError } from './errors.js';
import type { HostTensor } from './tensor.js';

export interface TensorSummary {
  mean: number;
  /** Population standard deviation (numpy's default, ddof=0). */
  std: number;
  min: number;
  max: number;
  /** Share of the non-NaN elements that are > 0. */
  fractionPositive: number;
  /** NaN elements; they are left out of every other statistic. */
  nans: number;
}

let float16Table: Float32Array | undefined;
// One word seen both as uint32 and float32, to reinterpret bfloat16 bits without allocating.
const scratchWord = new Uint32Array(1);
const scratchFloat = new Float32Array(scratchWord.buffer);

function decodeFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** All 65536 float16 values, built on first use: a lookup beats decoding bit fields per element. */
function float16Lookup(): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) float16Table[bits] = decodeFloat16Bits(bits);
  }
  return float16Table;
}

/** Decodes IEEE half-precision bit patterns (one number, or a whole array). */
export function float16ToFloat32(bits: number): number;
export function float16ToFloat32(bits: Uint16Array): Float32Array;
export function float16ToFloat32(bits: number | Uint16Array): number | Float32Array {
  const table = float16Lookup();
  if (typeof bits === 'number') return table[bits & 0xffff];
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** Decodes bfloat16 bit patterns: they are the top 16 bits of a float32, so shifting them back is exact. */
export function bfloat16ToFloat32(bits: number): number;
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array;
export function bfloat16ToFloat32(bits: number | Uint16Array): number | Float32Array {
  if (typeof bits === 'number') {
    scratchWord[0] = (bits & 0xffff) << 16;
    return scratchFloat[0];
  }
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

function numericData(t: HostTensor, caller: string): Exclude<HostTensor['data'], string[]> {
  if (Array.isArray(t.data)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `${caller} expects a numeric tensor; got dtype ${t.type}.`, {
      hint: 'String tensors have no numeric value; skip them.',
    });
  }
  return t.data;
}

/**
 * The tensor's values as float32. Already-float32 data is returned as is (no copy), so treat it
 * as read-only; float16/bfloat16 are decoded, integers and bools converted (int64 may round).
 */
export function toFloat32(t: HostTensor): Float32Array {
  const data = numericData(t, 'toFloat32');
  if (t.type === 'float16') return float16ToFloat32(data as Uint16Array);
  if (t.type === 'bfloat16') return bfloat16ToFloat32(data as Uint16Array);
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
    return out;
  }
  return Float32Array.from(data);
}

/** Welford's running mean and variance: one pass, stable even when the mean is large. */
class Accumulator {
  count = 0;
  nans = 0;
  positives = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  add(x: number): void {
    if (x !== x) {
      this.nans++;
      return;
    }
    this.count++;
    const delta = x - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (x > 0) this.positives++;
  }

  result(): TensorSummary {
    if (this.count === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, fractionPositive: NaN, nans: this.nans };
    return {
      mean: this.mean,
      std: Math.sqrt(this.m2 / this.count),
      min: this.min,
      max: this.max,
      fractionPositive: this.positives / this.count,
      nans: this.nans,
    };
  }
}

/**
 * Mean, std, min, max, share of positives and NaN count, in one float64 pass.
 * NaNs are counted and skipped so that one NaN does not hide the rest of the picture;
 * an empty (or all-NaN) tensor gives NaN statistics.
 */
export function summarize(t: HostTensor): TensorSummary {
  const data = numericData(t, 'summarize');
  const acc = new Accumulator();
  if (t.type === 'float16' || t.type === 'bfloat16') {
    const decode = t.type === 'float16' ? float16Lookup() : undefined;
    for (const bits of data as Uint16Array) acc.add(decode ? decode[bits] : bfloat16ToFloat32(bits));
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (const v of data) acc.add(Number(v));
  } else {
    const values = data as ArrayLike<number>;
    for (let i = 0; i < values.length; i++) acc.add(values[i]);
  }
  return acc.result();
}
