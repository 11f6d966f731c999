/**
 * The `recomputed` mark in saved files: which keys hold a tensor recomputed beside a fused op
 * (the `attentions` of a fused Attention / GroupQueryAttention) rather than read from the graph,
 * and how. Written as the metadata entry `neurotap.recomputed` (a JSON object key → how) of
 * safetensors' `__metadata__`, of an `.npz`'s `__metadata__` member, and as each Zarr array's
 * `recomputed` attribute; read back by `recomputedOf`.
 */
export const RECOMPUTED_METADATA = 'neurotap.recomputed';

/** The metadata entry for the recomputed keys among `keys` (none: an empty record, so files stay as they were). */
export function recomputedMetadata(
  targets: readonly { key: string; recomputed?: string }[],
  keys: ReadonlySet<string>,
): Record<string, string> {
  const marks = Object.fromEntries(
    targets.filter((t) => t.recomputed && keys.has(t.key)).map((t) => [t.key, t.recomputed as string]),
  );
  return Object.keys(marks).length ? { [RECOMPUTED_METADATA]: JSON.stringify(marks) } : {};
}

/** Key → how, from a file's metadata (an absent or unreadable entry: none recomputed). */
export function recomputedOf(metadata: Record<string, string>): Record<string, string> {
  const text = metadata[RECOMPUTED_METADATA];
  if (text === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}
