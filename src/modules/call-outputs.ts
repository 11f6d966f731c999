/**
 * How a call's leaving values map onto the Python object its forward returned, and which calls'
 * outputs the export destroyed by fusing the next module into them.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo, NotObservable } from './module-map.js';

const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/**
 * Orders a call's outputs as PyTorch returns them. Recurrent modules return `output, h_n` (GRU, RNN)
 * or `output, (h_n, c_n)` (LSTM): the sequence derived from the op's `Y` comes first, then `Y_h`, `Y_c`.
 * Other modules keep execution order.
 */
export function orderCallOutputs(index: GraphIndex, nodes: readonly number[], sinks: readonly string[], ownNodes: readonly number[]): { outputs: string[]; outputPaths: number[][] } {
  // Only a recurrent op of the module itself (not of a child module) says how its tuple nests.
  const recurrent = [...ownNodes].reverse().find((n) => RECURRENT_OPS.has(index.nodes[n].opType ?? ''));
  if (recurrent === undefined || sinks.length < 2) {
    const ordered = byReturnPosition(index, sinks);
    return { outputs: ordered, outputPaths: ordered.map((_, i) => [i]) };
  }
  const op = index.nodes[recurrent];
  const y = op.output?.[0] ?? '';
  const sequence = downstreamWithin(index, new Set(nodes), y);
  const first = sinks.filter((v) => sequence.has(v) && v !== y);
  const rest = sinks.filter((v) => !sequence.has(v));
  // No sink derived from Y but Y itself unread: a cell (LSTMCell, GRUCell) returning only states.
  if (first.length === 0) {
    const ordered = byReturnPosition(index, rest);
    return { outputs: ordered, outputPaths: ordered.map((_, i) => [i]) };
  }
  const outputs = [first[0], ...rest];
  if (op.opType === 'LSTM' && rest.length === 2) return { outputs, outputPaths: [[0], [1, 0], [1, 1]] };
  return { outputs, outputPaths: outputs.map((_, i) => [i]) };
}

/**
 * A tuple's order is lost in the graph, but where its elements flow on to the outputs of the graph
 * (or of the subgraph they sit in), that order is the best evidence left; otherwise execution order.
 */
function byReturnPosition(index: GraphIndex, sinks: readonly string[]): string[] {
  const ranks = sinks.map((v) => firstReturnPosition(index, v));
  if (ranks.some((r) => r === undefined) || new Set(ranks).size !== ranks.length) return [...sinks];
  return sinks.map((v, i) => [v, ranks[i]!] as const).sort((a, b) => a[1] - b[1]).map(([v]) => v);
}

function firstReturnPosition(index: GraphIndex, start: string): number | undefined {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length && seen.size < 256) {
    const value = queue.shift()!;
    const position = index.outputPosition.get(value);
    if (position !== undefined) return position;
    for (const reader of index.consumers.get(value) ?? []) {
      for (const out of index.nodes[reader].output ?? []) if (out && !seen.has(out)) { seen.add(out); queue.push(out); }
    }
  }
  return undefined;
}

/** Values reachable from `start` through nodes of the call. */
function downstreamWithin(index: GraphIndex, inside: ReadonlySet<number>, start: string): Set<string> {
  const reached = new Set<string>([start]);
  const queue = [start];
  while (queue.length) {
    const value = queue.pop()!;
    for (const reader of index.consumers.get(value) ?? []) {
      if (!inside.has(reader)) continue;
      for (const out of index.nodes[reader].output ?? []) if (out && !reached.has(out)) { reached.add(out); queue.push(out); }
    }
  }
  return reached;
}

/**
 * In a default (eval, constant-folded) TorchScript export, a BatchNorm after a Conv is folded into
 * the Conv: the Conv's weights become anonymous (`onnx::Conv_193`) and the graph's Conv computes
 * bn(conv(x)). The Conv module's own output then exists nowhere.
 */
export function findFusion(index: GraphIndex, info: ModuleInfo): NotObservable | undefined {
  for (const call of info.calls) {
    for (const n of call.nodes) {
      const node = index.nodes[n];
      if (node.opType !== 'Conv' && node.opType !== 'ConvTranspose') continue;
      const weight = node.input?.[1] ?? '';
      if (!index.initializers.has(weight) || !weight.startsWith('onnx::')) continue;
      return {
        reason: `the exporter folded the next BatchNorm into this ${node.opType} (weights renamed '${weight}'): the graph holds batchnorm(conv(x)), under no module name`,
        hint: `Re-export with torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE) (or do_constant_folding=False) to keep BatchNorm nodes and observe both modules; the fused value is the ONNX value '${node.output?.[0] ?? ''}' (capture it by that name).`,
      };
    }
  }
  return undefined;
}
