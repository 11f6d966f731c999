/**
 * torch.nn's RNNCell, GRUCell and LSTMCell, which torch 1.13 exports as plain Gemm/Split/Sigmoid/Tanh
 * ops (no recurrent op): their parameters `<cell>.weight_ih` and `<cell>.weight_hh` are the evidence.
 *
 * Inputs: the pre-hook sees `(input, h)` (RNNCell, GRUCell) or `(input, (h, c))` (LSTMCell). The
 * value multiplied by `weight_ih` is the input, the one multiplied by `weight_hh` is h, and an
 * LSTMCell's other value (only gated and added, never multiplied by a weight) is c. The order in which
 * the graph first reads them is no evidence (the exporter computes `h @ weight_hh` first). A state
 * that enters as no value (the caller passed `torch.zeros(...)`, folded into the graph, or nothing:
 * the cell starts from zeros) is reported.
 *
 * Output: an LSTMCell returns `(h, c)` with `h = o * tanh(c)`, the formula says which is which, and
 * c is returned even where the model never reads it outside (it is computed for h).
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { walkForward } from '../graph/walk-forward.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';

type CellKind = 'LSTMCell' | 'GRUCell' | 'RNNCell';

export const CELL_STATE_REASON =
  'no value enters this call for the state: the caller passed none (the cell starts from zeros) or a constant such as torch.zeros(...), which the exporter folds into the graph';

/** The call with a torch.nn cell's inputs nested and ordered, and an LSTMCell's `(h, c)`; else unchanged. */
export function withCellArguments(index: GraphIndex, info: ModuleInfo, call: ModuleCall): ModuleCall {
  const ih = `${info.name}.weight_ih`;
  const hh = `${info.name}.weight_hh`;
  const inside = new Set(call.nodes);
  const readsWeight = (w: string) => call.nodes.some((n) => index.nodes[n].input?.includes(w));
  if (!readsWeight(ih) || !readsWeight(hh)) return call;
  const kind = cellKind(index, call);
  const expected = kind === 'LSTMCell' ? [[0], [1, 0], [1, 1]] : [[0], [1]];
  const paths: number[][] = [];
  for (const value of call.inputs) {
    const weights = weightsReached(index, inside, value, [ih, hh]);
    if (weights.size === 1 && weights.has(ih)) paths.push([0]);
    else if (weights.size === 1 && weights.has(hh)) paths.push(expected[1]);
    else if (weights.size === 0 && kind === 'LSTMCell') paths.push([1, 1]);
    else return call;
  }
  if (new Set(paths.map((p) => p.join())).size !== paths.length) return call;
  const order = paths.map((_, i) => i).sort((a, b) => paths[a].join().localeCompare(paths[b].join()));
  const absent = expected.filter((p) => p[0] !== 0 && !paths.some((q) => q.join() === p.join()));
  const outputs = kind === 'LSTMCell' ? lstmCellOutputs(index, inside) : undefined;
  // The previous step's c is read inside that step too (by its tanh), yet it is that call's output.
  const returned = (v: string) => info.calls.some((c) => c !== call && c.outputs.includes(v));
  return {
    ...call,
    opaqueInputs: call.opaqueInputs.filter((v) => !returned(v)),
    inputs: order.map((i) => call.inputs[i]),
    inputPaths: order.map((i) => paths[i]),
    unobservableInputs: absent.map((path) => ({ path, reason: CELL_STATE_REASON })),
    ...(outputs ? { outputs, outputPaths: [[0], [1]], unobservableOutputs: [] } : {}),
  };
}

/** LSTMCell splits one gate sum in 4; GRUCell splits each Gemm in 3; RNNCell splits nothing. */
function cellKind(index: GraphIndex, call: ModuleCall): CellKind {
  const splits = call.nodes.map((n) => index.nodes[n]).filter((n) => n.opType === 'Split');
  if (splits.some((n) => n.output?.length === 4)) return 'LSTMCell';
  return splits.some((n) => n.output?.length === 3) ? 'GRUCell' : 'RNNCell';
}

/** Which of the weights a value is multiplied by, following it through the call up to those products. */
function weightsReached(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  value: string,
  weights: readonly string[],
): Set<string> {
  const reached = new Set<string>();
  walkForward(index, inside, value, (reader) => {
    const weight = weights.find((w) => index.nodes[reader].input?.includes(w));
    if (weight) reached.add(weight);
    return weight === undefined;
  });
  return reached;
}

/** `h = o * tanh(c)` with c a sum (`f * c_prev + i * g`): h must leave the call; c is where it is computed. */
function lstmCellOutputs(index: GraphIndex, inside: ReadonlySet<number>): string[] | undefined {
  const producer = (v: string) => {
    const p = index.producer.get(v);
    return p !== undefined && inside.has(p) ? index.nodes[p] : undefined;
  };
  const found: string[][] = [];
  for (const n of inside) {
    const node = index.nodes[n];
    if (node.opType !== 'Mul') continue;
    for (const input of node.input ?? []) {
      const tanh = producer(input);
      const c = tanh?.opType === 'Tanh' ? tanh.input?.[0] : undefined;
      if (c && producer(c)?.opType === 'Add') found.push([node.output?.[0] ?? '', c]);
    }
  }
  if (found.length !== 1) return undefined;
  const h = found[0][0];
  const leaves = index.outputPosition.has(h) || (index.consumers.get(h) ?? []).some((r) => !inside.has(r));
  return leaves ? found[0] : undefined;
}
