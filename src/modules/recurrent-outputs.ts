/**
 * The tuple a recurrent module returns: `output, h_n` (GRU, RNN) or `output, (h_n, c_n)` (LSTM),
 * from the sinks of its call. Two export optimisations make parts of it unobservable, and they are
 * reported, never returned under the tuple's keys:
 * - a batch-first module whose output transpose was cancelled against a transpose after the module:
 *   the graph then only holds the sequence time-major;
 * - a stacked or bidirectional module whose final states stay per layer and direction because the
 *   model never used `h_n`: the graph holds no concatenated `h_n`;
 * - a module run on a PackedSequence: it returns a PackedSequence, which the graph does not hold.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import { PACKED_PATHS, PACKED_REASON, readsPackedSequence } from './recurrent-arguments.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

export interface CallOutputs {
  outputs: string[];
  outputPaths: number[][];
  /** Tuple elements the graph does not hold, with the reason. */
  unobservable: { path: number[]; reason: string }[];
  /** A container even with one element (see ModuleCall.container). */
  container?: boolean;
}

export function recurrentOutputs(
  index: GraphIndex,
  nodes: readonly number[],
  sinks: readonly string[],
  recurrent: number,
): CallOutputs | undefined {
  const inside = new Set(nodes);
  const op = index.nodes[recurrent];
  const y = op.output?.[0] ?? '';
  const sequence = valuesAfter(index, inside, y);
  const first = sinks.find((v) => sequence.has(v) && v !== y);
  const states = sinks.filter((v) => !sequence.has(v));
  // No sink derived from Y: a cell returning only its states, or `_, h = rnn(x)` (Y left unread).
  if (first === undefined && !sequenceUnused(index, y, states)) return undefined;
  const statePaths =
    op.opType === 'LSTM'
      ? [
          [1, 0],
          [1, 1],
        ]
      : [[1]];
  const result: CallOutputs = { outputs: [], outputPaths: [], unobservable: [] };
  if (nodes.some((n) => RECURRENT.has(index.nodes[n].opType ?? '') && readsPackedSequence(index, n))) {
    result.unobservable.push(...PACKED_PATHS.map((path) => ({ path, reason: PACKED_REASON })));
  } else if (first === undefined) {
    result.unobservable.push({
      path: [0],
      reason:
        "the model never uses the output sequence, so the export keeps only the recurrent op's raw time-major Y, not PyTorch's output",
    });
  } else if (readsInputThroughSwap(index, inside) && !swapsBatchFirst(index, inside, y, first)) {
    result.unobservable.push({
      path: [0],
      reason:
        "the export cancelled this batch-first output's transpose against one after the module, so the graph holds the sequence time-major only",
    });
  } else {
    result.outputs.push(first);
    result.outputPaths.push([0]);
  }
  if (states.length === statePaths.length) {
    result.outputs.push(...inStateOrder(index, inside, op, states));
    result.outputPaths.push(...statePaths);
  } else {
    const reason =
      "the export keeps each layer's and direction's final state in its own value and never concatenates them into PyTorch's h_n (the model does not use it)";
    for (const path of statePaths) result.unobservable.push({ path, reason });
  }
  return result;
}

/**
 * An LSTM's `(h_n, c_n)` by the op output each derives from (Y_h is output 1, Y_c output 2), not by
 * where they reach the graph's end: an optimiser (ONNX Runtime saving its graph) reorders nodes.
 */
function inStateOrder(index: GraphIndex, inside: ReadonlySet<number>, op: NodeProto, states: string[]): string[] {
  if (states.length !== 2) return states;
  const from = (v: string) => [1, 2].filter((k) => valuesBefore(index, inside, v).has(op.output?.[k] || '\0'));
  const [a, b] = states.map(from);
  return a.length === 1 && b.length === 1 && a[0] === 2 && b[0] === 1 ? [states[1], states[0]] : states;
}

/**
 * `_, h = rnn(x)`: the op's Y is read by nothing, and the states leave the call as the op (or a
 * Concat of the layers' ops) gives them, not squeezed to a cell's `(batch, hidden)`.
 */
function sequenceUnused(index: GraphIndex, y: string, states: readonly string[]): boolean {
  if ((index.consumers.get(y) ?? []).length > 0 || index.outputPosition.has(y) || states.length === 0) return false;
  return states.every((v) => {
    const op = index.nodes[index.producer.get(v) ?? -1]?.opType;
    return op === 'LSTM' || op === 'GRU' || op === 'RNN' || op === 'Concat';
  });
}

function perm(node: NodeProto): number[] | undefined {
  return node.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
}

/** The call transposes one of its inputs with axes 0 and 1 swapped: a batch-first module. */
function readsInputThroughSwap(index: GraphIndex, inside: ReadonlySet<number>): boolean {
  for (const n of inside) {
    const node = index.nodes[n];
    const p = perm(node);
    if (node.opType !== 'Transpose' || !p || p[0] !== 1 || p[1] !== 0) continue;
    const producer = index.producer.get(node.input?.[0] ?? '');
    if (producer === undefined || !inside.has(producer)) return true;
  }
  return false;
}

/** A Transpose between Y (time first) and the sink that moves another axis first: batch-first output. */
function swapsBatchFirst(index: GraphIndex, inside: ReadonlySet<number>, y: string, sink: string): boolean {
  for (const n of inside) {
    const node = index.nodes[n];
    const p = perm(node);
    if (
      node.opType === 'Transpose' &&
      p &&
      p[0] !== 0 &&
      valuesAfter(index, inside, y).has(node.output?.[0] ?? '') &&
      valuesBefore(index, inside, sink).has(node.output?.[0] ?? '')
    )
      return true;
  }
  return false;
}

/** Values reachable from `start` through nodes of the call. */
function valuesAfter(index: GraphIndex, inside: ReadonlySet<number>, start: string): Set<string> {
  const reached = new Set<string>([start]);
  const queue = [start];
  while (queue.length) {
    const value = queue.pop()!;
    for (const reader of index.consumers.get(value) ?? []) {
      if (!inside.has(reader)) continue;
      for (const out of index.nodes[reader].output ?? [])
        if (out && !reached.has(out)) {
          reached.add(out);
          queue.push(out);
        }
    }
  }
  return reached;
}

/** Values `end` depends on through nodes of the call. */
function valuesBefore(index: GraphIndex, inside: ReadonlySet<number>, end: string): Set<string> {
  const reached = new Set<string>([end]);
  const queue = [end];
  while (queue.length) {
    const p = index.producer.get(queue.pop()!);
    if (p === undefined || !inside.has(p)) continue;
    for (const v of index.nodes[p].input ?? [])
      if (v && !reached.has(v)) {
        reached.add(v);
        queue.push(v);
      }
  }
  return reached;
}
