/**
 * Quantized (QDQ) models are captured from the graph ONNX Runtime actually runs. Their plain run
 * fuses DequantizeLinear → Conv → QuantizeLinear into integer kernels (QLinearConv, QGemm, …), and
 * any extra graph output inside such a group stops the fusion: the capture would then run a float
 * emulation the deployed model never runs, with different outputs. So ONNX Runtime optimises the
 * model first (its own saved optimised graph), the capture graph is built from that, and the capture
 * session runs with optimisation off. Module names stay those of the original graph: a value the
 * optimised graph still holds keeps its name; a DequantizeLinear whose quantized input survived is
 * recomputed from it (the same float the original node gives); every other value was fused away
 * and is reported.
 */
import { NeurotapError } from '../errors.js';
import { indexGraph, type GraphIndex } from '../graph/graph-index.js';
import { decodeModel } from '../onnx/codec.js';
import { AttributeType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/types.js';
import type { InferenceSession, ModelSource } from '../runtime/runtime.js';
import { qdqPreservingGraph } from './qdq-groups.js';
import type { Selection } from './select.js';

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

/** A QDQ model: a QuantizeLinear → DequantizeLinear pair feeding a float op, outside control flow. */
export function isQdqModel(index: GraphIndex): boolean {
  if (index.nodes.some((n) => CONTROL_FLOW.has(n.opType ?? ''))) return false;
  return index.nodes.some((n) => {
    if (n.opType !== 'DequantizeLinear') return false;
    const producer = index.producer.get(n.input?.[0] ?? '');
    if (producer === undefined || index.nodes[producer].opType !== 'QuantizeLinear') return false;
    return (index.consumers.get(n.output?.[0] ?? '') ?? []).some((c) => index.nodes[c].opType !== 'QuantizeLinear');
  });
}

export interface OptimizedGraph {
  readonly proto: ModelProto;
  readonly index: GraphIndex;
  /** Why each value of the original graph that the optimised one lacks cannot be captured. */
  whyMissing(value: string): string | undefined;
  /** The graph is the model's own, kept out of the fused groups: its capture sessions are optimised as usual. */
  readonly optimizeSessions?: boolean;
}

/** The optimised model ONNX Runtime saved, with the original DequantizeLinear outputs it can still give. */
export function optimizedGraph(original: GraphIndex, optimizedBytes: Uint8Array): OptimizedGraph {
  const proto = decodeModel(optimizedBytes);
  const graph = proto.graph!;
  const has = holder(indexGraph(graph));
  const initializers = new Map((original.graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const extraNodes: NodeProto[] = [];
  const extraInits: TensorProto[] = [];
  for (const node of original.nodes) {
    const out = node.output?.[0];
    if (node.opType !== 'DequantizeLinear' || !out || has(out) || !has(node.input?.[0] ?? '')) continue;
    const params = (node.input ?? []).slice(1).filter(Boolean);
    if (!params.every((p) => has(p) || initializers.has(p))) continue;
    for (const p of params) if (!has(p) && !extraInits.some((t) => t.name === p)) extraInits.push(initializers.get(p)!);
    extraNodes.push({ ...node, name: `${node.name ?? out}::recomputed` });
  }
  // A node output ONNX Runtime folded into a constant (a weight's QuantizeLinear) is now an
  // initializer, which a session cannot fetch: it becomes a Constant node again, same name and value.
  const folded = (graph.initializer ?? []).filter((t) => original.producer.has(t.name ?? ''));
  const model = {
    ...proto,
    graph: {
      ...graph,
      node: [...folded.map(constantNode), ...(graph.node ?? []), ...extraNodes],
      initializer: [...(graph.initializer ?? []).filter((t) => !folded.includes(t)), ...extraInits],
    },
  };
  const index = indexGraph(model.graph);
  const present = holder(index);
  const byName = new Map(index.nodes.map((n) => [n.name ?? '', n]));
  return {
    proto: model,
    index,
    whyMissing(value) {
      if (present(value)) return undefined;
      const p = original.producer.get(value);
      const before = p === undefined ? undefined : original.nodes[p];
      const after = before?.name ? byName.get(before.name) : undefined;
      return after && after.opType !== before?.opType
        ? `fused by ONNX Runtime into ${after.opType} '${after.name}': the quantized model never computes this value`
        : `removed by ONNX Runtime's graph optimisation (fused into the quantized kernels around it): the quantized model never computes this value`;
    },
  };
}

function constantNode(t: TensorProto): NodeProto {
  const name = t.name ?? '';
  return {
    opType: 'Constant',
    name: `${name}::folded`,
    output: [name],
    attribute: [{ name: 'value', type: AttributeType.TENSOR, t }],
  };
}

/** Whether a value exists in the graph: produced by a node, or an input or initializer. */
function holder(index: GraphIndex): (value: string) => boolean {
  return (value) => index.producer.has(value) || index.initializers.has(value) || index.inputs.includes(value);
}

/** What loading asked for: the CPU EP at a level that fuses quantized groups (ONNX Runtime's default 'all'). */
export interface OptimizeRequest {
  readonly executionProviders?: readonly string[];
  readonly graphOptimizationLevel?: string;
  readonly external: boolean;
}

/** Whether the capture must start from ONNX Runtime's optimised graph (a QDQ model on the CPU EP). */
export function wantsRuntimeOptimized(index: GraphIndex, request: OptimizeRequest): boolean {
  // onnxruntime-web's 'wasm' provider is its CPU one (the same kernels and QDQ fusions, compiled to WASM).
  const cpuOnly = (request.executionProviders ?? ['cpu']).every((ep) => ep === 'cpu' || ep === 'wasm');
  const fuses = request.graphOptimizationLevel !== 'disabled' && request.graphOptimizationLevel !== 'basic';
  return cpuOnly && fuses && !request.external && isQdqModel(index);
}

/** Targets whose value the optimised graph lacks become not observable, with the reason. */
export function dropFusedTargets(selection: Selection, optimized: OptimizedGraph | undefined): Selection {
  if (!optimized) return selection;
  const notObservable = [...selection.notObservable];
  const targets = selection.targets.filter((t) => {
    const why = optimized.whyMissing(t.value);
    if (why) {
      notObservable.push({
        key: t.key,
        module: t.module ?? t.value,
        reason: why,
        hint: 'Capture the quantized values around it (the "values" preset lists what the optimised graph holds).',
      });
    }
    return why === undefined;
  });
  return { targets, notObservable };
}

/** The graph captures are built from: the model's own, or ONNX Runtime's optimised one. */
export interface CaptureBase {
  readonly proto: ModelProto;
  readonly index: GraphIndex;
  readonly optimized?: OptimizedGraph;
}

/** For a QDQ model on the CPU EP, ONNX Runtime's optimised graph (its integer kernels); else the model's own. */
export async function loadCaptureBase(
  proto: ModelProto,
  index: GraphIndex,
  bytes: Uint8Array,
  source: ModelSource,
  request: OptimizeRequest,
  options: InferenceSession.SessionOptions,
): Promise<CaptureBase> {
  if (!wantsRuntimeOptimized(index, request)) return { proto, index };
  if (!source.optimize) {
    // onnxruntime-web: no saved optimised graph, so the capture keeps out of the fused groups.
    const preserving = qdqPreservingGraph(proto, index);
    return { proto: preserving.proto, index: preserving.index, optimized: preserving };
  }
  // 'extended' fuses the quantized groups; 'all' would also change layouts (NCHWc, NHWC) under the same names.
  const saved = await source.optimize(bytes, { ...options, graphOptimizationLevel: 'extended' }).catch((cause) => {
    const message = String(cause instanceof Error ? cause.message : cause).split('\n')[0];
    throw new NeurotapError('E_RUNTIME', `ONNX Runtime could not optimise the model: ${message}`, {
      hint: 'Check that the model runs with plain onnxruntime; report the model if it does.',
      cause,
    });
  });
  const optimized = optimizedGraph(index, saved);
  return { proto: optimized.proto, index: optimized.index, optimized };
}
