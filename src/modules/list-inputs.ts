/**
 * A module taking a list of tensors (DenseNet's `_DenseLayer.forward(prev_features)`, whose first op
 * is `torch.cat(prev_features, 1)`) and one taking the same tensors as separate arguments
 * (`forward(a, b): f(torch.cat([a, b], 1))`) give the same graph: the call's inputs all go into one
 * Concat. PyTorch's pre-hook keys them `in:m#0#i` in the first case and `in:m#i` in the second, and
 * nothing in the graph tells which, so those inputs are opaque with that reason (never keyed as a
 * guess).
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleCall } from './module-map.js';

/** The call with its inputs marked opaque where a Concat inside the call is all that reads them. */
export function withListInputs(index: GraphIndex, call: ModuleCall): ModuleCall {
  const concat = soleConcatReader(index, call);
  if (concat === undefined) return call;
  const node = index.nodes[concat];
  const n = call.inputs.length;
  const reason = `its ${n === 1 ? 'input goes' : `${n} inputs go`} only into the Concat '${node.name ?? node.output?.[0]}' (torch.cat): the graph cannot tell one list argument (PyTorch's pre-hook keys in:…#0#i, as DenseNet's layers take their features) from ${n === 1 ? 'a tensor argument' : 'separate arguments'} (in:…#i)`;
  const reasons = new Map(call.opaqueReasons ?? []);
  const opaque = [...call.opaqueInputs];
  for (const v of call.inputs) {
    if (opaque.includes(v)) continue;
    opaque.push(v);
    reasons.set(v, reason);
  }
  return { ...call, opaqueInputs: opaque, opaqueReasons: reasons };
}

/** The one Concat node of the call that reads every input of the call, where no other node of the call reads any. */
function soleConcatReader(index: GraphIndex, call: ModuleCall): number | undefined {
  if (call.inputs.length === 0) return undefined;
  const inside = new Set(call.nodes);
  let concat: number | undefined;
  for (const v of call.inputs) {
    const readers = (index.consumers.get(v) ?? []).filter((r) => inside.has(r));
    if (readers.length !== 1 || index.nodes[readers[0]].opType !== 'Concat') return undefined;
    if (concat !== undefined && concat !== readers[0]) return undefined;
    concat = readers[0];
  }
  const data = (index.nodes[concat!].input ?? []).filter((v) => v !== '' && !index.initializers.has(v));
  return data.every((v) => call.inputs.includes(v)) ? concat : undefined;
}
