/**
 * The module tree in the order the forward pass runs it: roots by their first ONNX node, each
 * module's children likewise, then flattened depth-first with depths for indenting.
 *
 * ```ts
 * for (const { module, depth } of treeRows(modulesInCallOrder(model))) console.log('  '.repeat(depth) + module.name);
 * ```
 */
import type { ModuleSummary, NeurotapModel } from '../model.js';

/** `model.modules()`, modules and their children sorted by the first node they run. */
export function modulesInCallOrder(model: NeurotapModel): ModuleSummary[] {
  const first = model.callOrder();
  const byCall = (a: string, b: string) => (first.get(a) ?? Infinity) - (first.get(b) ?? Infinity);
  return model
    .modules()
    .map((m) => ({ ...m, children: [...m.children].sort(byCall) }))
    .sort((a, b) => byCall(a.name, b.name));
}

export interface TreeRow {
  readonly module: ModuleSummary;
  readonly depth: number;
}

/** Depth-first rows from the modules that are nobody's child, children in list order. */
export function treeRows(modules: readonly ModuleSummary[]): TreeRow[] {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const children = new Set(modules.flatMap((m) => m.children));
  const rows: TreeRow[] = [];
  const visit = (m: ModuleSummary, depth: number) => {
    rows.push({ module: m, depth });
    for (const child of m.children) if (byName.has(child)) visit(byName.get(child)!, depth + 1);
  };
  for (const m of modules) if (!children.has(m.name)) visit(m, 0);
  return rows;
}

/** Captured values in tree order of their modules (stable; values of no module keep their place at the end). */
export function inTreeOrder<T extends { readonly module: string | undefined }>(
  layers: readonly T[],
  modules: readonly ModuleSummary[],
): T[] {
  const rank = new Map(treeRows(modules).map((row, i) => [row.module.name, i]));
  const rankOf = (layer: T) => rank.get(layer.module ?? '') ?? Infinity;
  return layers
    .map((layer, i) => ({ layer, i }))
    .sort((a, b) => rankOf(a.layer) - rankOf(b.layer) || a.i - b.i)
    .map((x) => x.layer);
}
