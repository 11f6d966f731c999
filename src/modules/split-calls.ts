/**
 * The dynamo exporter records which module a node came from, but not which call: two calls of one
 * module carry the same `name_scopes`. Such a group falls apart into disconnected pieces that each
 * do the same work (same ops, same child modules); each piece is one call.
 */
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import type { ScopeStep } from './scopes.js';

export interface CallGroup {
  module: string;
  parent: string | undefined;
  className: string | undefined;
  nodes: number[];
  context: readonly ContextStep[];
  depth: number;
  /** The call number of each step of the scope path down to this module (`_N` suffixes), where names give them. */
  scopeCalls?: readonly number[];
}

export function splitRepeatedCalls(index: GraphIndex, group: CallGroup, paths: readonly ScopeStep[][]): CallGroup[] {
  const pieces = connectedPieces(index, group.nodes);
  if (pieces.length < 2) return [group];
  const signature = (piece: number[]) =>
    piece
      .map(
        (n) =>
          `${paths[n]
            .slice(group.depth + 1)
            .map((s) => s.module)
            .join('/')}:${index.nodes[n].opType}`,
      )
      .sort()
      .join('|');
  const first = signature(pieces[0]);
  if (!pieces.every((p) => signature(p) === first)) return [group];
  return pieces.map((nodes) => ({ ...group, nodes }));
}

/** Weakly connected pieces of the group's nodes; a node reading only constants joins its first reader. */
function connectedPieces(index: GraphIndex, nodes: readonly number[]): number[][] {
  const inside = new Set(nodes);
  const parent = new Map(nodes.map((n) => [n, n]));
  const find = (n: number): number => {
    while (parent.get(n) !== n) n = parent.get(n)!;
    return n;
  };
  const union = (a: number, b: number) => parent.set(find(a), find(b));
  for (const n of nodes) {
    let linked = false;
    for (const v of index.reads[n]) {
      const p = index.producer.get(v);
      if (p !== undefined && inside.has(p)) {
        union(n, p);
        linked = true;
      }
    }
    if (!linked) {
      const reader = (index.nodes[n].output ?? [])
        .flatMap((o) => index.consumers.get(o) ?? [])
        .find((r) => inside.has(r));
      if (reader !== undefined && !index.reads[n].some((v) => !index.initializers.has(v))) union(n, reader);
    }
  }
  const pieces = new Map<number, number[]>();
  for (const n of nodes) (pieces.get(find(n)) ?? pieces.set(find(n), []).get(find(n))!).push(n);
  return [...pieces.values()].sort((a, b) => a[0] - b[0]);
}
