/**
 * Linears whose bias ONNX Runtime's fusions moved into the op reading their output (fused-outputs.ts
 * finds it): the value in the graph lacks the bias, so it is neither the Linear's output nor the input
 * the next module received.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { CallOutputs } from './recurrent-outputs.js';
import { fusedBiasReader, isSumNorm } from './fused-outputs.js';
import { stripFusionSuffix, valueScopeComponents } from './fused-scopes.js';
import type { ModuleCall } from './module-map.js';

/** ONNX Runtime's MatMulAddFusion: a 3-D MatMul + Add as a 2-D Gemm between Reshapes it adds. */
const GEMM_RESHAPE = /^gemm_(input|output)_reshape/;
const FLATTENED =
  "ONNX Runtime's MatMulAddFusion computes this Linear as a 2-D Gemm between reshapes merged with the ops around it: the [batch, …, features] value the module saw is not in the graph";

/** Why `value` is not the output of the layer whose own op computed it (fused with an activation, flattened). */
function fusedActivation(index: GraphIndex, value: string, own: ReadonlySet<number>): string | undefined {
  if (GEMM_RESHAPE.test(value)) return FLATTENED;
  const p = index.producer.get(value);
  if (p === undefined || !own.has(p)) return undefined;
  const node = index.nodes[p];
  const input = index.nodes[index.producer.get(node.input?.[0] ?? '') ?? -1];
  if (/MatMulAddFusion/.test(node.name ?? '') && GEMM_RESHAPE.test(input?.name ?? '')) return FLATTENED;
  const activation = node.attribute?.find((a) => a.name === 'activation');
  if (!activation?.s || !/^Fused/.test(node.opType ?? '')) return undefined;
  const name = new TextDecoder().decode(activation.s);
  return `ONNX Runtime fused it with the ${name} after it (${node.opType} '${node.name ?? p}'): the graph holds the ${name}'s output`;
}

const reasonFor = (reader: string) =>
  `the optimiser moved its bias into the fused ${reader} that reads it, so the graph holds this value without the bias`;

/**
 * Outputs lacking their bias, and a layer's own output that ONNX Runtime fused with the activation
 * after it (`FusedGemm` with `activation: Tanh` holds tanh(dense(x))), become not observable,
 * keeping their tuple position.
 */
export function withoutFusedBias(index: GraphIndex, ordered: CallOutputs, own: ReadonlySet<number>): CallOutputs {
  const outputs: string[] = [];
  const outputPaths: number[][] = [];
  const unobservable = [...ordered.unobservable];
  // A lone output is the whole output (key `name`, not `name#0`).
  const single = ordered.outputs.length + ordered.unobservable.length === 1;
  ordered.outputs.forEach((v, i) => {
    const biasReader = fusedBiasReader(index, v);
    const reason = biasReader ? reasonFor(biasReader) : fusedActivation(index, v, own);
    if (reason) unobservable.push({ path: single ? [] : ordered.outputPaths[i], reason });
    else {
      outputs.push(v);
      outputPaths.push(ordered.outputPaths[i]);
    }
  });
  return { outputs, outputPaths, unobservable };
}

/**
 * Inputs a fusion changed are opaque: one lacking the bias a fused op inside the call adds; a summand
 * a fused SkipLayerNormalization of the call adds to the residual (the module received the sum);
 * one an optimiser merged across the boundary (ReshapeFusion: `/…/attn/Reshape_3_new_reshape` makes
 * `/…/attn/c_proj/Reshape_output_0`, named inside the module, from outside it).
 */
export function withFusedOpaqueInputs(index: GraphIndex, call: ModuleCall): ModuleCall {
  const inside = new Set(call.nodes);
  const reasons = new Map(call.opaqueReasons ?? []);
  // Graph inputs read by independent nodes (two embedding Gathers) are what ORT's sort reorders.
  const fed = call.inputs.filter((v) => index.inputs.includes(v));
  const unordered = fed.length > 1 && isReorderedByOptimizer(index) ? new Set(fed) : new Set<string>();
  for (const v of call.inputs) {
    if (call.opaqueInputs.includes(v)) continue;
    if (unordered.has(v)) {
      call.opaqueInputs.push(v);
      reasons.set(v, UNORDERED);
      continue;
    }
    const readers = (index.consumers.get(v) ?? []).filter((r) => inside.has(r));
    if (readers.length === 0) continue;
    const reason = fusedInputReason(index, v, readers, inside);
    if (!reason) continue;
    call.opaqueInputs.push(v);
    reasons.set(v, reason);
  }
  return reasons.size ? { ...call, opaqueReasons: reasons } : call;
}

function fusedInputReason(
  index: GraphIndex,
  v: string,
  readers: readonly number[],
  inside: ReadonlySet<number>,
): string | undefined {
  const reader = fusedBiasReader(index, v);
  if (reader) return reasonFor(reader);
  const producerName = index.nodes[index.producer.get(v) ?? -1]?.name ?? '';
  if (GEMM_RESHAPE.test(producerName) || GEMM_RESHAPE.test(v)) return FLATTENED;
  // A summand is what the norm module received only as part of the sum; a block computing the other
  // summand itself (BERT's layer: LayerNorm(dense(a) + x)) did receive x.
  const summing = readers
    .map((r) => index.nodes[r])
    .find((n) => {
      const summands = n.input?.slice(0, 2) ?? [];
      if (!isSumNorm(n.opType) || !summands.includes(v)) return false;
      const other = summands.find((x) => x !== v);
      return !inside.has(index.producer.get(other ?? '') ?? -1);
    });
  if (summing)
    return `the fused ${summing.opType} '${summing.name ?? ''}' adds it to the other summand before normalising: the module received the sum`;
  const producer = index.producer.get(v);
  const named = valueScopeComponents(v)?.join('/');
  const producerScope = producer === undefined ? undefined : nodeScope(index.nodes[producer].name ?? '');
  if (named === undefined || producerScope === undefined || named === producerScope) return undefined;
  const inModule = readers.some((r) => `${nodeScope(index.nodes[r].name ?? '')}/`.startsWith(`${named}/`));
  if (inModule && !`${producerScope}/`.startsWith(`${named}/`))
    return `an optimiser merged the op computing it ('${index.nodes[producer!].name}') with the one before the module: the value the module received is no longer in the graph`;
  return undefined;
}

const UNORDERED =
  "ONNX Runtime's optimiser reorders the nodes reading the model's inputs, so the graph does not say in which order the module received them";

/** A graph ONNX Runtime's optimiser wrote (`optimizedModelFilePath`): the names its fusions give nodes. */
function isReorderedByOptimizer(index: GraphIndex): boolean {
  return index.nodes.some((n) => /Fusion\/?$|_token_\d+$/.test(n.name ?? ''));
}

/** `/transformer/h.0/attn/c_proj/Gemm` → `transformer/h.0/attn/c_proj` (fusion suffixes dropped). */
function nodeScope(name: string): string | undefined {
  const parts = stripFusionSuffix(name).split('/');
  return parts.length > 2 ? parts.slice(1, -1).join('/') : undefined;
}
