/** Output comparison for the conformance run: floats within tolerance (NaN equals NaN, ±inf equals itself), the rest exactly. */
import type { HostTensor } from '../src/tensor.js';
import { toFloat32 } from '../src/tensor-summary.js';

export function closeEnough(
  actual: { type: string; dims: readonly number[]; data: unknown } | undefined,
  expected: HostTensor | undefined,
): boolean {
  if (!actual || !expected) return false;
  if (actual.dims.join(',') !== expected.dims.join(',')) return false;
  if (expected.type === 'string') return JSON.stringify(actual.data) === JSON.stringify(expected.data);
  if (!expected.type.startsWith('float') && expected.type !== 'bfloat16') {
    const a = actual.data as ArrayLike<number | bigint>;
    const b = expected.data as ArrayLike<number | bigint>;
    for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const a = toFloat32(actual as HostTensor);
  const b = toFloat32(expected);
  for (let i = 0; i < b.length; i++) {
    // inf - inf is NaN, so infinities compare by identity.
    if (a[i] === b[i]) continue;
    if (!Number.isFinite(b[i]) && !Number.isNaN(b[i])) return false;
    if (Number.isNaN(b[i]) ? !Number.isNaN(a[i]) : !(Math.abs(a[i] - b[i]) <= 1e-4 + 1e-3 * Math.abs(b[i])))
      return false;
  }
  return true;
}
