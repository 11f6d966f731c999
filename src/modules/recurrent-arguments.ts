/**
 * What a recurrent module's forward pre-hook sees, from the op's input slots: `(input, h_0)` for a
 * GRU or RNN and `(input, (h_0, c_0))` for an LSTM, as far as the caller passed them. The order in
 * which the graph first reads the call's values is no evidence (a stacked module slices its `h_0`
 * for layer 0 before the sequence reaches the op), the slot each value reaches is: X is the
 * sequence, `initial_h` h_0, `initial_c` c_0 (through the per-layer Slices of a stacked module, never
 * through a Shape, which only sizes a zero state the exporter builds).
 *
 * A PackedSequence input (`pack_padded_sequence` before the module: the op reads `sequence_lens`)
 * is a namedtuple `(data, batch_sizes, sorted_indices, unsorted_indices)` whose `data` packs the
 * valid steps only; the graph holds the padded sequence and the lengths instead, so those elements
 * are reported, never returned under the PackedSequence's keys.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { walkForward } from '../graph/walk-forward.js';
import type { ModuleCall } from './module-map.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
const X = 0;
const SEQUENCE_LENS = 4;
const INITIAL_H = 5;
const INITIAL_C = 6;

export const PACKED_REASON =
  'a PackedSequence: the export runs the recurrent op on the padded sequence with its lengths, so the graph holds no PackedSequence data (the valid steps packed together) nor its batch_sizes and indices';

/** PackedSequence's four fields; `#0#2`, `#0#3` exist when `enforce_sorted=False`. */
export const PACKED_PATHS = [
  [0, 0],
  [0, 1],
  [0, 2],
  [0, 3],
];

/** The op's `sequence_lens` slot is fed: the module ran on a PackedSequence. */
export function readsPackedSequence(index: GraphIndex, op: number): boolean {
  return !!index.nodes[op].input?.[SEQUENCE_LENS];
}

/**
 * The call with its inputs in PyTorch's order and nested paths, or unchanged where a value reaches
 * no slot or several (no evidence). `received` is the value merged-transpose handling proved to be
 * the sequence the module received (it reaches the op only through the Shape of a zero h0).
 */
export function withRecurrentArguments(
  index: GraphIndex,
  call: ModuleCall,
  op: number,
  received: string | undefined,
): ModuleCall {
  const lstm = index.nodes[op].opType === 'LSTM';
  const packed = call.nodes.some((n) => RECURRENT.has(index.nodes[n].opType ?? '') && readsPackedSequence(index, n));
  const paths: number[][] = [];
  for (const value of call.inputs) {
    const slots = value === received ? new Set([X]) : slotsReached(index, call, value);
    // forward(input, hx) takes two arguments: with a PackedSequence, a value reaching neither state
    // (the unsorted indices its states are gathered back with) is one of the PackedSequence's fields.
    if (packed && !slots.has(INITIAL_H) && !slots.has(INITIAL_C)) {
      paths.push([0, X]);
      continue;
    }
    if (slots.size !== 1) return call;
    const slot = [...slots][0];
    if (slot === X || slot === SEQUENCE_LENS) paths.push(packed ? [0, slot] : [0]);
    else if (slot === INITIAL_H) paths.push(lstm ? [1, 0] : [1]);
    else if (slot === INITIAL_C && lstm) paths.push([1, 1]);
    else return call;
  }
  const order = paths.map((_, i) => i).sort((a, b) => compare(paths[a], paths[b]));
  const keep = order.filter((i) => !packed || paths[i][0] !== 0);
  if (new Set(keep.map((i) => paths[i].join())).size !== keep.length) return call;
  const unobservable = packed ? PACKED_PATHS.map((path) => ({ path, reason: PACKED_REASON })) : [];
  return {
    ...call,
    inputs: keep.map((i) => call.inputs[i]),
    inputPaths: keep.map((i) => paths[i]),
    unobservableInputs: [...(call.unobservableInputs ?? []).filter((u) => u.reason !== PACKED_REASON), ...unobservable],
  };
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k] - b[k];
  return a.length - b.length;
}

/** The recurrent-op input slots `value` flows into inside the call (not through Shape or the ops themselves). */
function slotsReached(index: GraphIndex, call: ModuleCall, value: string): Set<number> {
  const slots = new Set<number>();
  walkForward(index, new Set(call.nodes), value, (reader, v) => {
    const node = index.nodes[reader];
    if (!RECURRENT.has(node.opType ?? '')) return node.opType !== 'Shape';
    (node.input ?? []).forEach((input, k) => input === v && slots.add(k));
    return false;
  });
  return slots;
}
