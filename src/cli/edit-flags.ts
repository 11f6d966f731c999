/**
 * `--edit KEY=OP` (repeatable) for `neurotap extract`: the library's edit operations on the command
 * line. OP is `zero`, `scale:F`, `add:FILE.npy`, `clamp:LO:HI` (either bound may be empty:
 * `clamp::0`), `replace:FILE.npy`, or `patch:CACHE` (the same key's tensor from a file an earlier
 * `neurotap extract --out` wrote: .npz, .safetensors).
 */
import { extname } from 'node:path';
import { add, clamp, patchFrom, replace, scale, zero, type EditOp } from '../capture/edit-ops.js';
import { NeurotapError } from '../errors.js';
import { parseNpy } from '../formats/npy.js';
import { parseNpz } from '../formats/npz.js';
import { parseSafetensors } from '../formats/safetensors.js';
import { readFileBytes } from '../node/files.js';
import type { HostTensor } from '../tensor.js';

export const EDIT_FLAG = {
  type: 'string',
  valueHint: 'KEY=OP',
  description:
    'Edit an activation during the run, as a forward hook returning a value: OP zero | scale:F | add:FILE.npy | clamp:LO:HI | replace:FILE.npy | patch:CACHE.npz (repeatable)',
} as const;

const USAGE =
  'Use --edit KEY=OP with OP zero, scale:F, add:FILE.npy, clamp:LO:HI, replace:FILE.npy or patch:CACHE.npz.';

/** The edits the `--edit` flags ask for, files read (each file once). */
export async function editsOf(texts: readonly string[]): Promise<Record<string, EditOp>> {
  const edits: Record<string, EditOp> = {};
  const caches = new Map<string, Map<string, HostTensor>>();
  for (const text of texts) {
    const at = text.indexOf('=');
    const key = text.slice(0, at);
    if (at <= 0 || !text.slice(at + 1)) throw bad(`Expected --edit KEY=OP; got '${text}'.`);
    if (key in edits) throw bad(`--edit gives '${key}' twice.`);
    edits[key] = await opOf(text.slice(at + 1), caches);
  }
  return edits;
}

async function opOf(op: string, caches: Map<string, Map<string, HostTensor>>): Promise<EditOp> {
  const [name, ...rest] = op.split(':');
  const arg = rest.join(':');
  switch (name) {
    case 'zero':
      if (arg) throw bad(`'zero' takes no argument; got '${op}'.`);
      return zero();
    case 'scale':
      return scale(number(arg, op));
    case 'clamp': {
      if (rest.length !== 2) throw bad(`Expected clamp:LO:HI (either may be empty); got '${op}'.`);
      const [lo, hi] = rest;
      return clamp({ ...(lo ? { min: number(lo, op) } : {}), ...(hi ? { max: number(hi, op) } : {}) });
    }
    case 'add':
    case 'replace': {
      if (!arg) throw bad(`Expected ${name}:FILE.npy; got '${op}'.`);
      const tensor = parseNpy(await readFileBytes(arg, `the .npy file for --edit ${name}`));
      return name === 'add' ? add(tensor) : replace(tensor);
    }
    case 'patch': {
      if (!arg) throw bad(`Expected patch:CACHE.npz (a file neurotap extract --out wrote); got '${op}'.`);
      let cache = caches.get(arg);
      if (!cache) caches.set(arg, (cache = await readCache(arg)));
      return patchFrom(cache);
    }
    default:
      throw bad(`Unknown edit operation '${name}' in '${op}'.`);
  }
}

async function readCache(path: string): Promise<Map<string, HostTensor>> {
  const bytes = await readFileBytes(path, 'the activation file for --edit patch');
  const extension = extname(path).toLowerCase();
  if (extension === '.npz') return parseNpz(bytes);
  if (extension === '.safetensors') return parseSafetensors(bytes).tensors;
  throw bad(`Expected patch:CACHE with a .npz or .safetensors file; got '${path}'.`);
}

function number(text: string, op: string): number {
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw bad(`Expected a number in '${op}'; got '${text}'.`);
  return value;
}

function bad(message: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', message, { hint: USAGE });
}
