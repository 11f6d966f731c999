/**
 * One set of feeds for two exports of a model: a float feed is cast to each model's declared float
 * type (an fp16 export takes the same float32 `.npy` as its fp32 twin). Nothing else is converted.
 */
import type { NeurotapModel } from '../model.js';
import { toFloat32 } from '../tensor-summary.js';
import type { DType, HostTensor } from '../tensor.js';

const FLOATS: readonly DType[] = ['float32', 'float64', 'float16'];

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** IEEE half-precision bits of a float32, rounded to nearest even (what numpy's astype(float16) does). */
export function float32ToFloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf, NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    const m = (mantissa | 0x800000) >>> (1 - e);
    return sign | roundHalfEven(m, 13);
  }
  return sign | ((e << 10) + roundHalfEven(mantissa, 13));
}

/** `bits >> shift`, rounded to nearest, ties to even (a carry into the exponent is intended). */
function roundHalfEven(bits: number, shift: number): number {
  const kept = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

function castFloat(t: HostTensor, to: DType): HostTensor {
  const values = t.data instanceof Float64Array ? t.data : toFloat32(t);
  if (to === 'float32') return { type: to, dims: t.dims, data: Float32Array.from(values) };
  if (to === 'float64') return { type: to, dims: t.dims, data: Float64Array.from(values) };
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = float32ToFloat16Bits(values[i]);
  return { type: 'float16', dims: t.dims, data: bits };
}

/** The feeds with each float tensor in the float type the model declares for that input. */
export function castFeedsTo(
  model: NeurotapModel,
  feeds: Readonly<Record<string, HostTensor>>,
): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, feed] of Object.entries(feeds)) {
    const { dtype } = model.valueInfo(name);
    const declared = dtype === 'unknown' ? undefined : dtype;
    const cast = declared && declared !== feed.type && FLOATS.includes(feed.type) && FLOATS.includes(declared);
    out[name] = cast ? castFloat(feed, declared) : feed;
  }
  return out;
}
