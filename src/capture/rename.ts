/**
 * `layers: { layer1: 'feat1', layer2: 'feat2' }`: torchvision's `return_nodes` dict. The keys select
 * (exact module or value names), the values name what comes back; call, tuple and input suffixes
 * follow (`layer1:2#0` -> `feat1:2#0`, `in:layer1#0` -> `in:feat1#0`).
 */
import { NeurotapError } from '../errors.js';

export type RenameMap = Readonly<Record<string, string>>;

/**
 * A plain object is a rename map, except `{ type: X }` alone with X a RegExp or a class name
 * (capitalised, as PyTorch's are): that is the type filter. `{ type: 'feat' }` renames a module named type.
 */
export function isRenameMap(layers: unknown): layers is RenameMap {
  if (typeof layers !== 'object' || layers === null || Array.isArray(layers) || layers instanceof RegExp) return false;
  const keys = Object.keys(layers);
  if (keys.length !== 1 || keys[0] !== 'type') return true;
  const type = (layers as { type: unknown }).type;
  return !(type instanceof RegExp || (typeof type === 'string' && /^[A-Z]/.test(type)));
}

/** Checks the map and returns the function renaming every key a capture makes from it. */
export function renamer(map: RenameMap): (key: string) => string {
  const entries = Object.entries(map);
  const seen = new Map<string, string>();
  for (const [from, to] of entries) {
    if (typeof to !== 'string' || to === '' || /[*?]/.test(from)) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected layers: { name: 'new name' } with exact names and non-empty strings; got ${JSON.stringify(from)}: ${JSON.stringify(to)}.`,
        { hint: "E.g. layers: { 'layer1': 'feat1', 'layer4': 'feat4' }, as torchvision's return_nodes." },
      );
    }
    const other = seen.get(to);
    if (other !== undefined) {
      throw new NeurotapError('E_BAD_ARGUMENT', `'${other}' and '${from}' are both renamed '${to}'.`, {
        hint: 'Give each selected module its own name.',
      });
    }
    seen.set(to, from);
  }
  // Longest first: a value name may extend a module name.
  const sorted = entries.sort((a, b) => b[0].length - a[0].length);
  return (key) => {
    const prefix = key.startsWith('in:') ? 'in:' : '';
    const rest = key.slice(prefix.length);
    for (const [from, to] of sorted) {
      const next = rest[from.length];
      if (rest.startsWith(from) && (next === undefined || next === ':' || next === '#'))
        return prefix + to + rest.slice(from.length);
    }
    return key;
  };
}
