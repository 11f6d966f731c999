import type { GraphIndex } from './graph-index.js';

/**
 * The values `start` flows into inside a set of nodes (a module call), `start` included: a forward
 * walk over the nodes reading each value, going on through a node's outputs where `through(reader,
 * value)` says so (a caller records what it stops at, e.g. a recurrent op's input slot).
 */
export function walkForward(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  start: string,
  through: (reader: number, value: string) => boolean,
): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) {
    const v = queue.pop()!;
    for (const reader of index.consumers.get(v) ?? []) {
      if (!inside.has(reader) || !through(reader, v)) continue;
      for (const out of index.nodes[reader].output ?? [])
        if (out && !seen.has(out)) {
          seen.add(out);
          queue.push(out);
        }
    }
  }
  return seen;
}
