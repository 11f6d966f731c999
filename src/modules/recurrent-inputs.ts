/**
 * What a batch-first recurrent module received, where the exporter merged or cancelled its input
 * transpose.
 *
 * A batch-first GRU/LSTM/RNN swaps its input's axes 0 and 1 (`Transpose perm [1, 0, 2]`) before
 * the op. When the caller transposed the value just before, the TorchScript exporter merges both
 * transposes into one reading the caller's untransposed `y` (`gru(y.transpose(1, 2))`: `perm
 * [2, 0, 1]`), or removes both (`gru(y.transpose(0, 1))`: the op reads `y`). Either way the value
 * entering the call is not what the module received. The received value survives only where
 * something else still reads it: the Shape the exporter sizes the zero h0 from (with a dynamic
 * batch). It is returned when its transpose, followed by the swap, is exactly what the op reads;
 * otherwise a merged input is reported (a cancelled pair with no such Shape leaves no trace here:
 * cancelled-transposes.ts reports it where the output shows it).
 *
 * That zero h0 (ConstantOfShape or Expand of a Shape) is no input either: PyTorch's pre-hook sees
 * only what the caller passed, so a value the recurrent module's call reads only through Shape
 * nodes is not one of its inputs.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';
import { withRecurrentArguments } from './recurrent-arguments.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);
const SWAP = [1, 0, 2];
const IDENTITY = [0, 1, 2];

export const MERGED_INPUT_REASON =
  "the exporter merged the transpose before this batch-first recurrent call with the module's own batch-first transpose, so the graph reads the caller's untransposed value, not the sequence the module received";

function transposePerm(node: NodeProto | undefined): number[] | undefined {
  if (node?.opType !== 'Transpose') return undefined;
  return node.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
}

/** How a recurrent op reads its sequence: from `source` through `perm` (identity: no transpose left). */
interface SequenceRead {
  readonly op: number;
  /** The module's own input Transpose, merged with the caller's; undefined where both were removed. */
  readonly transpose: number | undefined;
  /** The value entering the call: the caller's value before its own transpose. */
  readonly source: string;
  readonly perm: readonly number[];
}

export function markMergedRecurrentInputs(index: GraphIndex, modules: readonly ModuleInfo[]): void {
  const calls = modules.flatMap((info) => info.calls.map((_, i) => ({ info, i })));
  // A stacked module's layers are several ops in one call: its inputs are settled at its first layer.
  const settled = new Set<string>();
  index.nodes.forEach((node, op) => {
    if (!RECURRENT.has(node.opType ?? '')) return;
    const holding = calls.filter(({ info, i }) => info.calls[i].nodes.includes(op));
    if (holding.length === 0) return;
    // The recurrent module's own call: the innermost one holding the op.
    const own = holding.reduce((a, b) => (b.info.calls[b.i].nodes.length < a.info.calls[a.i].nodes.length ? b : a));
    if (settled.has(`${own.info.name}:${own.i}`)) return;
    settled.add(`${own.info.name}:${own.i}`);
    const merged = sequenceRead(index, op, own.info.calls[own.i]);
    let received: string | undefined;
    for (const { info, i } of holding) {
      if (!merged || (merged.transpose !== undefined && !info.calls[i].nodes.includes(merged.transpose))) continue;
      const result = withReceivedInput(index, info.calls[i], merged);
      info.calls[i] = result.call;
      if (info === own.info && i === own.i) received = result.received;
    }
    const call = withoutShapeOnlyInputs(index, own.info.calls[own.i], received);
    own.info.calls[own.i] = withRecurrentArguments(index, call, op, received);
  });
}

/**
 * The op's sequence read, when it may hide what the module received: through its own Transpose
 * with another perm than the plain swap, or straight from the call's input (time-major, or a
 * batch-first swap cancelled against the caller's).
 */
function sequenceRead(index: GraphIndex, op: number, own: ModuleCall): SequenceRead | undefined {
  const x = index.nodes[op].input?.[0] ?? '';
  if (own.inputs.includes(x)) return { op, transpose: undefined, source: x, perm: IDENTITY };
  const transpose = index.producer.get(x);
  if (transpose === undefined || !own.nodes.includes(transpose)) return undefined;
  const perm = transposePerm(index.nodes[transpose]);
  if (perm?.length !== 3 || perm.every((p, k) => p === SWAP[k])) return undefined;
  return { op, transpose, source: index.nodes[transpose].input?.[0] ?? '', perm };
}

/**
 * A call input that is the caller's Transpose of the merged transpose's source, with a perm that
 * the swap turns into the merged one: exactly what the module received.
 */
function receivedValue(index: GraphIndex, call: ModuleCall, merged: SequenceRead): string | undefined {
  return call.inputs.find((v) => {
    const producer = index.producer.get(v);
    const perm = transposePerm(producer === undefined ? undefined : index.nodes[producer]);
    if (!perm || index.nodes[producer!].input?.[0] !== merged.source) return false;
    return merged.perm.every((p, k) => p === perm[SWAP[k]]);
  });
}

function withReceivedInput(
  index: GraphIndex,
  call: ModuleCall,
  merged: SequenceRead,
): { call: ModuleCall; received?: string } {
  if (!call.inputs.includes(merged.source)) return { call };
  const received = receivedValue(index, call, merged);
  // Straight from the input with no received value beside it: a time-major module (or no evidence).
  if (received === undefined && merged.transpose === undefined) return { call };
  if (received === undefined) {
    const opaqueReasons = new Map(call.opaqueReasons);
    opaqueReasons.set(merged.source, MERGED_INPUT_REASON);
    return { call: { ...call, opaqueInputs: [...new Set([...call.opaqueInputs, merged.source])], opaqueReasons } };
  }
  // The received value takes the source's position, wherever the Shape read it.
  const inputs = call.inputs.map((v) => (v === merged.source ? received : v));
  return { call: { ...call, inputs: inputs.filter((v, k) => inputs.indexOf(v) === k) }, received };
}

/** Drops the values a recurrent call reads only to size its zero h0 (Shape nodes), unless received. */
function withoutShapeOnlyInputs(index: GraphIndex, call: ModuleCall, received: string | undefined): ModuleCall {
  const inside = new Set(call.nodes);
  const shapeOnly = (v: string) => {
    if (v === received) return false;
    const readers = (index.consumers.get(v) ?? []).filter((r) => inside.has(r));
    return readers.length > 0 && readers.every((r) => index.nodes[r].opType === 'Shape');
  };
  if (!call.inputs.some(shapeOnly)) return call;
  return { ...call, inputs: call.inputs.filter((v) => !shapeOnly(v)) };
}
