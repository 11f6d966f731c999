/**
 * The graph the logit lens runs: the model's final norm and LM head alone (the model cut at the
 * final norm's input), on any number of hidden states stacked on axis 0, with the softmax and
 * top-k in the graph too, so only k values per position leave it. Weights are shared with the
 * model, never copied.
 *
 * Where ONNX Runtime fused the final norm with the last residual add (SkipLayerNormalization),
 * the residual stream entering the norm exists only inside that node: the last state runs through
 * the node itself (on the two values it adds), the others through the plain norm with the same
 * scale, bias and epsilon (LayerNormalization / SimplifiedLayerNormalization), joined before the head.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { AttributeType, DataType, type AttributeProto, type ModelProto, type NodeProto } from '../onnx/types.js';
import type { LensHead } from './head.js';

export const LENS_INPUT = 'neurotap::lens::hidden';
export const LENS_SKIP = ['neurotap::lens::skip_input', 'neurotap::lens::skip'] as const;
export const LENS_OUTPUTS = {
  probs: 'neurotap::lens::top_p',
  ids: 'neurotap::lens::top_id',
  logits: 'neurotap::lens::logits',
};

export interface LensGraphOptions {
  /** Rank of the hidden states fed (3 for [batch, seq, hidden]). */
  readonly rank: number;
  /** ONNX element type of the hidden states fed (the captured tensors' type). */
  readonly elemType: number;
  readonly top: number;
  /** Also return the float32 logits. */
  readonly logits?: boolean;
  /** With a fused final norm: whether states go through the plain norm (LENS_INPUT) and the fused node (LENS_SKIP). */
  readonly rows?: boolean;
  readonly skipRow?: boolean;
}

export function lensGraph(model: ModelProto, index: GraphIndex, head: LensHead, options: LensGraphOptions): ModelProto {
  const graph = model.graph ?? {};
  const rename = (v: string) => (v === head.stream ? LENS_INPUT : v);
  const headNodes = head.nodes.map((i) => ({ ...index.nodes[i], input: (index.nodes[i].input ?? []).map(rename) }));
  const nodes = [...(head.skip ? fusedNorm(index, head, options) : []), ...headNodes];
  const axis = options.rank - 1;
  const k = { name: 'neurotap::lens::k', dataType: DataType.INT64, dims: [1], int64Data: [options.top] };
  nodes.push(
    node('Cast', [head.logits], [LENS_OUTPUTS.logits], [int('to', DataType.FLOAT)]),
    node('Softmax', [LENS_OUTPUTS.logits], ['neurotap::lens::p'], [int('axis', axis)]),
    node('TopK', ['neurotap::lens::p', k.name], [LENS_OUTPUTS.probs, LENS_OUTPUTS.ids], [int('axis', axis)]),
  );
  const reads = new Set(nodes.flatMap((n) => n.input ?? []));
  const dims = Array.from({ length: options.rank }, (_, d) => ({ dimParam: `lens_d${d}` }));
  const tensor = (name: string, elemType: number, shaped = false) => ({
    name,
    type: { tensorType: { elemType, ...(shaped ? { shape: { dim: dims } } : {}) } },
  });
  const inputs = head.skip
    ? [...(options.rows ? [LENS_INPUT] : []), ...(options.skipRow ? LENS_SKIP : [])]
    : [LENS_INPUT];
  return {
    ...model,
    graph: {
      name: 'neurotap-lens',
      node: nodes,
      initializer: [...(graph.initializer ?? []).filter((t) => reads.has(t.name ?? '')), k],
      input: inputs.map((name) => tensor(name, options.elemType, true)),
      output: [
        tensor(LENS_OUTPUTS.probs, DataType.FLOAT),
        tensor(LENS_OUTPUTS.ids, DataType.INT64),
        ...(options.logits ? [tensor(LENS_OUTPUTS.logits, DataType.FLOAT)] : []),
      ],
    },
  };
}

/** The fused final norm: the plain norm on LENS_INPUT, the model's own node on LENS_SKIP, joined as `head.normed`. */
function fusedNorm(index: GraphIndex, head: LensHead, options: LensGraphOptions): NodeProto[] {
  const fused = index.nodes[head.skip!.node];
  const [, , scale, beta] = fused.input ?? [];
  const epsilon = (fused.attribute ?? []).filter((a) => a.name === 'epsilon');
  const simplified = fused.opType === 'SkipSimplifiedLayerNormalization';
  const parts: string[] = [];
  const nodes: NodeProto[] = [];
  if (options.rows) {
    parts.push('neurotap::lens::rows_normed');
    const norm = simplified ? 'SimplifiedLayerNormalization' : 'LayerNormalization';
    const inputs = simplified || !beta ? [LENS_INPUT, scale] : [LENS_INPUT, scale, beta];
    nodes.push(node(norm, inputs, [parts[parts.length - 1]], [...epsilon, int('axis', -1)]));
  }
  if (options.skipRow) {
    parts.push('neurotap::lens::skip_normed');
    const rest = (fused.input ?? []).slice(2);
    nodes.push({ ...fused, input: [...LENS_SKIP, ...rest], output: [parts[parts.length - 1]] });
  }
  const join =
    parts.length === 1
      ? node('Identity', parts, [head.normed], [])
      : node('Concat', parts, [head.normed], [int('axis', 0)]);
  return [...nodes, join];
}

const int = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });

function node(opType: string, input: string[], output: string[], attribute: AttributeProto[]): NodeProto {
  return { opType, name: `neurotap::lens::${opType}`, input, output, attribute };
}
