/**
 * How a call's leaving values map onto the Python object its forward returned.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { recurrentOutputs, type CallOutputs } from './recurrent-outputs.js';

const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/**
 * Orders a call's outputs as PyTorch returns them. Recurrent modules nest theirs (recurrent-outputs.ts);
 * other modules follow the order their values are returned in, else execution order.
 */
export function orderCallOutputs(
  index: GraphIndex,
  nodes: readonly number[],
  sinks: readonly string[],
  ownNodes: readonly number[],
): CallOutputs {
  // Only a recurrent op of the module itself (not of a child module) says how its tuple nests.
  const recurrent = [...ownNodes].reverse().find((n) => RECURRENT_OPS.has(index.nodes[n].opType ?? ''));
  const nested =
    recurrent !== undefined && sinks.length >= 2 ? recurrentOutputs(index, nodes, sinks, recurrent) : undefined;
  if (nested) return nested;
  const candidates = recurrent === undefined ? sinks : sinks.filter((v) => v !== index.nodes[recurrent].output?.[0]);
  const ordered = byReturnPosition(index, candidates);
  return { outputs: ordered, outputPaths: ordered.map((_, i) => [i]), unobservable: [] };
}

/**
 * A tuple's order is lost in the graph, but where its elements flow on to the outputs of the graph
 * (or of the subgraph they sit in), that order is the best evidence left; otherwise execution order.
 */
function byReturnPosition(index: GraphIndex, sinks: readonly string[]): string[] {
  const ranks = sinks.map((v) => firstReturnPosition(index, v));
  if (ranks.some((r) => r === undefined) || new Set(ranks).size !== ranks.length) return [...sinks];
  return sinks
    .map((v, i) => [v, ranks[i]!] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([v]) => v);
}

function firstReturnPosition(index: GraphIndex, start: string): number | undefined {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length && seen.size < 256) {
    const value = queue.shift()!;
    const position = index.outputPosition.get(value);
    if (position !== undefined) return position;
    for (const reader of index.consumers.get(value) ?? []) {
      for (const out of index.nodes[reader].output ?? [])
        if (out && !seen.has(out)) {
          seen.add(out);
          queue.push(out);
        }
    }
  }
  return undefined;
}
