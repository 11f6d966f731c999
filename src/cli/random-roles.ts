/** The values --random writes for a language model's inputs, by role (input-roles.ts). */
import type { InputRole } from '../graph/input-roles.js';
import type { HostTensor } from '../tensor.js';

/** Fills an integer (or mask) tensor for its role; other tensors are returned as made. */
export function withRole(t: HostTensor, role: InputRole, uniform: () => number): HostTensor {
  const data = t.data as unknown as ArrayLike<number | bigint> & { [i: number]: number | bigint };
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  const put = (i: number, x: number) => {
    data[i] = big ? BigInt(x) : x;
  };
  const isFloat = t.type.startsWith('float');
  if (role.kind === 'mask') for (let i = 0; i < data.length; i++) put(i, t.type === 'float16' ? 0x3c00 : 1);
  else if (role.kind === 'positions' && !isFloat) {
    const n = t.dims.at(-1) ?? 1;
    for (let i = 0; i < data.length; i++) put(i, i % n);
  } else if (role.kind === 'token-ids' && !isFloat)
    for (let i = 0; i < data.length; i++) put(i, Math.floor(uniform() * role.vocab));
  return t;
}
