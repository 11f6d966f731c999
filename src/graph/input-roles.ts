/**
 * What a language model's inputs are for, so that generated inputs (`--random`, the `layers` probe)
 * are ones the model can run on: token ids inside the embedding table, attention masks of ones,
 * position ids 0..n-1, and an empty KV cache (sequence length 0) for `past_key_values.*` / `past_N`.
 *
 * ```ts
 * inputRole(index, 'input_ids'); // { kind: 'token-ids', vocab: 50257 }
 * ```
 */
import type { GraphIndex } from './graph-index.js';

export type InputRole =
  | { readonly kind: 'token-ids'; readonly vocab: number }
  | { readonly kind: 'mask' }
  | { readonly kind: 'positions' }
  | { readonly kind: 'past' }
  | { readonly kind: 'other' };

const PAST = /^past(_key_values)?[._]|^past_\d+$|^cache[._]/i;
/** HF-style masks (1 = attend); not PyTorch's padding masks (`src_key_padding_mask`: True = ignore). */
const MASK = /^((encoder_|decoder_)?attention_mask|input_mask)$/i;
const POSITIONS = /^position_ids$/i;
/** Ops a token id passes through on its way to the table (reshapes, casts). */
const EMBED_TABLES: Record<number, number> = { 0: 2, 1: 4, 8: 3 };
const PASS = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity']);

export function inputRole(index: GraphIndex, name: string): InputRole {
  if (PAST.test(name)) return { kind: 'past' };
  if (MASK.test(name)) return { kind: 'mask' };
  if (POSITIONS.test(name)) return { kind: 'positions' };
  const vocab = tableRows(index, name, 0);
  return vocab === undefined ? { kind: 'other' } : { kind: 'token-ids', vocab };
}

/**
 * Rows of the embedding table this value indexes: a Gather (or GatherBlockQuantized) from an
 * initializer, or the word / position / segment table of an EmbedLayerNormalization.
 */
function tableRows(index: GraphIndex, value: string, depth: number): number | undefined {
  if (depth > 4) return undefined;
  for (const r of index.consumers.get(value) ?? []) {
    const node = index.nodes[r];
    const inputs = node.input ?? [];
    const op = node.opType ?? '';
    let table: string | undefined;
    if ((op === 'Gather' || op === 'GatherBlockQuantized') && inputs[1] === value) table = inputs[0];
    // EmbedLayerNormalization reads ids at 0 (words, table 2), 1 (segments, table 4), 8 (positions, table 3).
    const slot = EMBED_TABLES[inputs.indexOf(value)];
    if (op === 'EmbedLayerNormalization' && slot !== undefined) table = inputs[slot];
    const rows = table === undefined ? undefined : initializerRows(index, table);
    if (rows !== undefined) return rows;
    if (PASS.has(op) && inputs[0] === value) {
      const next = tableRows(index, node.output?.[0] ?? '', depth + 1);
      if (next !== undefined) return next;
    }
  }
  return undefined;
}

function initializerRows(index: GraphIndex, name: string): number | undefined {
  if (!index.initializers.has(name)) return undefined;
  const dims = index.graph.initializer?.find((t) => t.name === name)?.dims;
  const rows = dims?.[0] === undefined ? undefined : Number(dims[0]);
  return rows !== undefined && rows > 0 ? rows : undefined;
}

/** The symbolic dimensions that are the cache's length: those of past inputs not shared with other inputs. */
export function pastSymbols(
  inputs: readonly { name: string; shape: readonly (number | string)[] | null }[],
  roleOf: (name: string) => InputRole,
): Set<string> {
  const inPast = new Set<string>();
  const elsewhere = new Set<string>();
  for (const v of inputs) {
    const into = roleOf(v.name).kind === 'past' ? inPast : elsewhere;
    for (const d of v.shape ?? []) if (typeof d === 'string') into.add(d);
  }
  return new Set([...inPast].filter((s) => !elsewhere.has(s) && !/batch/i.test(s)));
}
