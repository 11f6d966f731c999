/**
 * Linears whose bias ONNX Runtime's fusions moved into the op reading their output (fused-outputs.ts
 * finds it): the value in the graph lacks the bias, so it is neither the Linear's output nor the input
 * the next module received.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { CallOutputs } from './recurrent-outputs.js';
import { fusedBiasReader } from './fused-outputs.js';
import type { ModuleCall } from './module-map.js';

const reasonFor = (reader: string) =>
  `the optimiser moved its bias into the fused ${reader} that reads it, so the graph holds this value without the bias`;

/** Outputs lacking their bias become not observable, keeping their tuple position. */
export function withoutFusedBias(index: GraphIndex, ordered: CallOutputs): CallOutputs {
  const outputs: string[] = [];
  const outputPaths: number[][] = [];
  const unobservable = [...ordered.unobservable];
  // A lone output is the whole output (key `name`, not `name#0`).
  const single = ordered.outputs.length + ordered.unobservable.length === 1;
  ordered.outputs.forEach((v, i) => {
    const reader = fusedBiasReader(index, v);
    if (reader) unobservable.push({ path: single ? [] : ordered.outputPaths[i], reason: reasonFor(reader) });
    else {
      outputs.push(v);
      outputPaths.push(ordered.outputPaths[i]);
    }
  });
  return { outputs, outputPaths, unobservable };
}

/** Inputs lacking the bias that a fused op inside the call adds are opaque: the module received them with it. */
export function withBiasOpaqueInputs(index: GraphIndex, call: ModuleCall): ModuleCall {
  const inside = new Set(call.nodes);
  const reasons = new Map(call.opaqueReasons ?? []);
  for (const v of call.inputs) {
    if (call.opaqueInputs.includes(v)) continue;
    const insideReaders = (index.consumers.get(v) ?? []).filter((r) => inside.has(r));
    if (insideReaders.length === 0) continue;
    const reader = fusedBiasReader(index, v);
    if (!reader) continue;
    call.opaqueInputs.push(v);
    reasons.set(v, reasonFor(reader));
  }
  return reasons.size ? { ...call, opaqueReasons: reasons } : call;
}
