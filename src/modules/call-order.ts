/**
 * Where each module first runs: the first graph node of its calls that computes from data.
 * Constants and weight-only nodes (a Constant, a Cast of a weight) may sit anywhere in an exported
 * graph, so they do not count. Nodes are stored in topological order, so sorting modules by this
 * position gives the order in which the forward pass calls them.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleMap } from './module-map.js';

function readsData(index: GraphIndex, node: number): boolean {
  const n = index.nodes[node];
  return n.opType !== 'Constant' && (n.input ?? []).some((v) => v !== '' && !index.initializers.has(v));
}

export function firstDataNodes(map: ModuleMap, index: GraphIndex): Map<string, number> {
  const first = new Map<string, number>();
  for (const m of map.modules) {
    let min = Infinity;
    for (const call of m.calls) for (const node of call.nodes) if (node < min && readsData(index, node)) min = node;
    first.set(m.name, min);
  }
  return first;
}
