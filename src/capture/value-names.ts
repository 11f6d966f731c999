/**
 * Names for the values computed between modules, as torchvision's `get_graph_node_names` gives
 * `layer1.0.add` for the `out += identity` of a BasicBlock: `MODULE/op` (`layer1.0/add`, `add_1` for
 * the next Add there; the root's own ops have no module: `flatten`), for every value no leaf module
 * owns. `layers: ['layer1.0/add']` captures it under that name.
 *
 * ```ts
 * model.valueNames().filter((v) => v.module === 'layer1.0'); // [{ name: 'layer1.0/add', value: '/layer1/layer1.0/Add_output_0', ... }]
 * ```
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleMap } from '../modules/module-map.js';

export interface ValueName {
  /** `MODULE/op` (op in lower case, `_k` from the second one of its kind in that module, `#i` for a node's i-th output). */
  readonly name: string;
  /** The ONNX value. */
  readonly value: string;
  /** The innermost module whose call computes it; '' for the model's own forward. */
  readonly module: string;
  readonly op: string;
}

const cache = new WeakMap<ModuleMap, ValueName[]>();

/** The innermost module of each top-level node that a module call contains. */
function ownersOf(map: ModuleMap): Map<number, { name: string; leaf: boolean }> {
  const owners = new Map<number, { name: string; leaf: boolean; depth: number }>();
  for (const m of map.modules) {
    const depth = m.name.split('.').length;
    for (const call of m.calls) {
      for (const node of call.nodes) {
        const current = owners.get(node);
        if (!current || depth > current.depth) owners.set(node, { name: m.name, leaf: m.children.length === 0, depth });
      }
    }
  }
  return owners;
}

export function valueNames(map: ModuleMap, index: GraphIndex): ValueName[] {
  const cached = cache.get(map);
  if (cached) return cached;
  const owners = ownersOf(map);
  const counts = new Map<string, number>();
  const out: ValueName[] = [];
  index.nodes.forEach((node, i) => {
    const owner = owners.get(i);
    if (owner?.leaf || node.opType === 'Constant' || !node.opType) return;
    const module = owner?.name ?? '';
    const op = node.opType.toLowerCase();
    const base = `${module ? `${module}/` : ''}${op}`;
    const k = counts.get(base) ?? 0;
    counts.set(base, k + 1);
    const name = k === 0 ? base : `${base}_${k}`;
    (node.output ?? []).forEach((value, o) => {
      if (value) out.push({ name: o === 0 ? name : `${name}#${o}`, value, module, op: node.opType! });
    });
  });
  cache.set(map, out);
  return out;
}
