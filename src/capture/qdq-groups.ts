/**
 * A QDQ model's capture base where ONNX Runtime cannot save its optimised graph (onnxruntime-web has
 * no `optimizedModelFilePath`). Its plain run still fuses DequantizeLinear → op → QuantizeLinear into
 * integer kernels, and a graph output inside such a group stops the fusion (the float emulation, with
 * different outputs). So the capture graph exposes nothing inside a group:
 * - a float value a group computes (an op reading a DequantizeLinear, and the ops between it and the
 *   QuantizeLinear after it) is reported: the deployed model never computes it;
 * - a DequantizeLinear's output read by a group is computed by a copy of that DequantizeLinear from
 *   the same quantized value (the original renamed, feeding the group alone): the float it gives is
 *   exactly the dequantized integer the kernel computed, as the Node path's recomputed values are;
 * - quantized values (QuantizeLinear outputs, which the kernels return) and values outside groups
 *   are exposed as they are: an extra reader of a kernel's output does not stop its fusion.
 */
import { indexGraph, type GraphIndex } from '../graph/graph-index.js';
import type { ModelProto, NodeProto } from '../onnx/types.js';
import type { OptimizedGraph } from './runtime-optimized.js';

const QDQ = new Set(['QuantizeLinear', 'DequantizeLinear']);
/** How far back from a QuantizeLinear a group's float ops are looked for (Conv → Relu → Q is two). */
const MAX_GROUP_DEPTH = 4;

/** The float values ONNX Runtime may fuse into an integer kernel, each with the group's first op. */
function groupValues(index: GraphIndex): Map<string, NodeProto> {
  const inGroup = new Map<string, NodeProto>();
  const isDq = (v: string) => index.nodes[index.producer.get(v) ?? -1]?.opType === 'DequantizeLinear';
  const readsDq = (n: NodeProto) => (n.input ?? []).some((v) => v && isDq(v));
  for (const node of index.nodes)
    if (!QDQ.has(node.opType ?? '') && readsDq(node)) for (const v of node.output ?? []) if (v) inGroup.set(v, node);
  for (const q of index.nodes) {
    if (q.opType !== 'QuantizeLinear') continue;
    let value = q.input?.[0] ?? '';
    const chain: NodeProto[] = [];
    for (let depth = 0; depth < MAX_GROUP_DEPTH; depth++) {
      const p = index.producer.get(value);
      if (p === undefined || QDQ.has(index.nodes[p].opType ?? '')) break;
      if ((index.consumers.get(value) ?? []).length !== 1) break;
      chain.push(index.nodes[p]);
      if (readsDq(index.nodes[p])) {
        for (const n of chain) for (const v of n.output ?? []) if (v) inGroup.set(v, index.nodes[p]);
        break;
      }
      value = index.nodes[p].input?.[0] ?? '';
    }
  }
  return inGroup;
}

/** The model with every group-reading DequantizeLinear doubled, and why each group value is not exposed. */
export function qdqPreservingGraph(proto: ModelProto, index: GraphIndex): OptimizedGraph {
  const inGroup = groupValues(index);
  const outputs = new Set((proto.graph?.output ?? []).map((o) => o.name ?? ''));
  const renamed = new Map<string, string>();
  const copies: NodeProto[] = [];
  for (const node of index.nodes) {
    const out = node.output?.[0] ?? '';
    if (node.opType !== 'DequantizeLinear' || !out || outputs.has(out)) continue;
    const readers = (index.consumers.get(out) ?? []).map((c) => index.nodes[c]);
    if (!readers.some((r) => (r.output ?? []).some((v) => inGroup.has(v)))) continue;
    renamed.set(out, `${out}::group`);
    copies.push({ ...node, name: `${node.name ?? out}::recomputed` });
  }
  const rename = (v: string) => renamed.get(v) ?? v;
  const nodes = (proto.graph?.node ?? []).map((n) => ({
    ...n,
    input: (n.input ?? []).map(rename),
    output: (n.output ?? []).map(rename),
  }));
  const graph = { ...proto.graph, node: [...nodes, ...copies] };
  return {
    proto: { ...proto, graph },
    index: indexGraph(graph),
    optimizeSessions: true,
    whyMissing(value) {
      const first = inGroup.get(value);
      return first
        ? `inside the QDQ group of '${first.name ?? first.opType}', which ONNX Runtime fuses into an integer kernel: the quantized model never computes this float (this runtime cannot save its optimised graph; the quantized values around it are captured)`
        : undefined;
    },
  };
}
