/**
 * `float32: true` (`--float32`): an fp16 model's values as float32. By default a capture returns
 * what the graph computes, float16 as a Uint16Array of bit patterns (type 'float16'), so nothing is
 * converted that the caller did not ask for; decoding float16 to float32 is exact.
 */
import type { Runtime, Tensor } from '../runtime/runtime.js';
import { bfloat16ToFloat32, float16ToFloat32 } from '../tensor-summary.js';
import type { ActivationCache } from './activation-cache.js';

export function upcastFloat16(acts: ActivationCache, runtime: Runtime): ActivationCache {
  return acts.mapped((t) => upcastTensor(t, runtime));
}

function upcastTensor(t: Tensor, runtime: Runtime): Tensor {
  // onnxruntime-common's types do not list bfloat16, which onnxruntime-web may return.
  const type = t.type as string;
  if (type !== 'float16' && type !== 'bfloat16') return t;
  const bits = new Uint16Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.size);
  const data = type === 'float16' ? float16ToFloat32(bits) : bfloat16ToFloat32(bits);
  return new runtime.Tensor('float32', data, t.dims);
}
