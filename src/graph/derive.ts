/**
 * Values a fused op computes but does not return, made graph outputs for a capture:
 * - `optional-output`: the op has an optional output for it (SkipLayerNormalization's output 3, the
 *   residual sum; EmbedLayerNormalization's output 2, the embedding sum): the capture graph names it;
 * - `attention-probs`: ONNX Runtime's fused `Attention` keeps its softmax inside: the probabilities
 *   are recomputed next to it from its own inputs (input, packed QKV weights and bias, raw 2-D mask,
 *   past via its `present` output), its scale and its causal flag, as its CPU kernel computes them;
 *   `GroupQueryAttention`'s from its query, its `present_key` output and its sequence lengths (derive-gqa.ts).
 * `attentionRecipe` says up front whether a node can be recomputed, so what cannot is reported.
 */
import type { GraphIndex } from './graph-index.js';
import type { GraphProto, NodeProto } from '../onnx/types.js';
import { AttributeType, DataType } from '../onnx/types.js';
import { appendGqaProbs } from './derive-gqa.js';

export type Derivation =
  | { readonly kind: 'optional-output'; readonly anchor: string; readonly output: number }
  | { readonly kind: 'attention-probs'; readonly anchor: string };

export const derivationKey = (d: Derivation | undefined): string =>
  d ? `${d.kind}:${d.anchor}:${d.kind === 'optional-output' ? d.output : ''}` : '';

interface Editor {
  readonly root: GraphProto;
  fresh(hint: string): string;
}

/** Adds what `d` needs to the top-level graph; returns the value holding the derived tensor. */
export function appendDerivation(editor: Editor, d: Derivation, index: GraphIndex): string {
  const nodes = (editor.root.node ??= []);
  const at = nodes.findIndex((n) => n.output?.[0] === d.anchor);
  if (d.kind === 'optional-output') {
    const node = nodes[at];
    const named = node.output?.[d.output];
    if (named) return named;
    const name = editor.fresh(`${d.anchor}::output${d.output}`);
    const output = [...(node.output ?? [])];
    while (output.length < d.output) output.push('');
    output[d.output] = name;
    nodes[at] = { ...node, output };
    return name;
  }
  if (nodes[at].opType === 'GroupQueryAttention') return appendGqaProbs(editor, nodes, at, index);
  return appendAttentionProbs(editor, nodes, at, index);
}

export const attr = (node: NodeProto, name: string) => node.attribute?.find((a) => a.name === name);

/** Why a fused Attention's probabilities cannot be recomputed, or its head count and sizes. */
export function attentionRecipe(
  index: GraphIndex,
  node: NodeProto,
): { heads: number; hidden: number } | { reason: string } {
  const heads = Number(attr(node, 'num_heads')?.i ?? 0);
  const input = node.input ?? [];
  const weights = index.graph.initializer?.find((t) => t.name === input[1]);
  const dims = (weights?.dims ?? []).map(Number);
  const unsupported = [
    Number(attr(node, 'do_rotary')?.i ?? 0) !== 0 && 'rotary embeddings (do_rotary)',
    attr(node, 'qkv_hidden_sizes') && 'unequal Q/K/V sizes (qkv_hidden_sizes)',
    input[5] && 'an attention bias input',
    input[6] && 'a past_sequence_length input',
    input[4] && !node.output?.[1] && 'a past without a present output',
    Number(attr(node, 'past_present_share_buffer')?.i ?? 0) !== 0 && 'a present buffer shared with the past',
    dims.length !== 2 && 'weights that are not a 2-D initializer',
    input[3] && maskRank(index, input[3]) !== 2 && 'a mask that is not the raw 2-D [batch, total_seq] form',
    !(heads > 0) && 'no num_heads',
  ].filter((x): x is string => typeof x === 'string');
  if (unsupported.length) return { reason: `its probabilities cannot be recomputed: it has ${unsupported.join(', ')}` };
  if (dims[1] % 3 !== 0 || (dims[1] / 3) % heads !== 0)
    return { reason: `its weights [${dims}] do not split into 3 × ${heads} heads` };
  return { heads, hidden: dims[1] / 3 };
}

/** The mask's declared rank, through the Casts that turn a fed mask into the int32 one the op reads. */
function maskRank(index: GraphIndex, mask: string): number | undefined {
  const declared = index.types.get(mask)?.tensorType?.shape?.dim?.length;
  if (declared !== undefined) return declared;
  const at = index.producer.get(mask);
  const node = at === undefined ? undefined : index.nodes[at];
  return node && (node.opType === 'Cast' || node.opType === 'Identity')
    ? maskRank(index, node.input?.[0] ?? '')
    : undefined;
}

/** Nodes added beside a fused op, named under `base`; `added` is spliced in after it. */
export interface NodeBuilder {
  readonly added: NodeProto[];
  op(opType: string, inputs: string[], attrs?: NodeProto['attribute']): string;
  ints(values: number[]): string;
  intScalar(value: number): string;
  floatScalar(value: number): string;
}

export function nodeBuilder(base: string): NodeBuilder {
  let n = 0;
  const added: NodeProto[] = [];
  const op = (opType: string, inputs: string[], attrs: NodeProto['attribute'] = []): string => {
    const out = `${base}/${opType}_${n++}`;
    added.push({ opType, name: out, input: inputs, output: [out], attribute: attrs });
    return out;
  };
  return {
    added,
    op,
    ints: (values) => constant(DataType.INT64, values, [values.length], op),
    intScalar: (value) => constantScalar(value, op),
    floatScalar: (value) => constant(DataType.FLOAT, [value], [], op),
  };
}

function appendAttentionProbs(editor: Editor, nodes: NodeProto[], at: number, index: GraphIndex): string {
  const node = nodes[at];
  const recipe = attentionRecipe(index, node);
  if ('reason' in recipe) throw new Error(`attention-probs on an unsupported node: ${recipe.reason}`);
  const { heads, hidden } = recipe;
  const headSize = hidden / heads;
  const [x, weights, bias, mask, past] = node.input ?? [];
  const { op, ints, floatScalar, added } = nodeBuilder(editor.fresh(`${node.output?.[0]}::probs`));
  const perm = (p: number[]) => [{ name: 'perm', type: AttributeType.INTS, ints: p }];
  const heads4 = (t: string) =>
    op('Transpose', [op('Reshape', [t, ints([0, 0, heads, headSize])])], perm([0, 2, 1, 3]));
  const slice = (t: string, from: number) => op('Slice', [t, ints([from]), ints([from + hidden]), ints([-1])]);

  const projected = op('MatMul', [x, weights]);
  const qkv = bias ? op('Add', [projected, bias]) : projected;
  const q = heads4(slice(qkv, 0));
  // With a past, the keys are its present output's first half (past keys, then these).
  const keys = past
    ? op('Gather', [node.output![1], constantScalar(0, op)], [{ name: 'axis', type: AttributeType.INT, i: 0 }])
    : heads4(slice(qkv, hidden));
  const scaleAttr = attr(node, 'scale')?.f;
  const scale = scaleAttr ? scaleAttr : 1 / Math.sqrt(headSize);
  let scores = op('Mul', [op('MatMul', [q, op('Transpose', [keys], perm([0, 1, 3, 2]))]), floatScalar(scale)]);
  const filter = floatScalar(Number(attr(node, 'mask_filter_value')?.f ?? -10000));
  if (mask) {
    const kept = op('Cast', [mask], [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]);
    const masked = op('Mul', [op('Sub', [floatScalar(1), kept]), filter]);
    scores = op('Add', [scores, op('Reshape', [masked, ints([0, 1, 1, -1])])]);
  }
  if (Number(attr(node, 'unidirectional')?.i ?? 0) !== 0) scores = causal(scores, filter, op, ints);
  const probs = op('Softmax', [scores], [{ name: 'axis', type: AttributeType.INT, i: 3 }]);
  nodes.splice(at + 1, 0, ...added);
  return probs;
}

/** Keys after a query's own position (past included) get the mask filter value, as the kernel does. */
function causal(
  scores: string,
  filter: string,
  op: (opType: string, inputs: string[], attrs?: NodeProto['attribute']) => string,
  ints: (values: number[]) => string,
): string {
  const shape = op('Shape', [scores]);
  const pick = (i: number) =>
    op('Gather', [shape, constantScalar(i, op)], [{ name: 'axis', type: AttributeType.INT, i: 0 }]);
  const queries = pick(2);
  const total = pick(3);
  const zero = constantScalar(0, op);
  const one = constantScalar(1, op);
  const rows = op('Add', [op('Range', [zero, queries, one]), op('Sub', [total, queries])]);
  const future = op('Greater', [op('Range', [zero, total, one]), op('Reshape', [rows, ints([-1, 1])])]);
  return op('Where', [future, filter, scores]);
}

function constantScalar(
  value: number,
  op: (opType: string, inputs: string[], attrs?: NodeProto['attribute']) => string,
) {
  return constant(DataType.INT64, [value], [], op);
}

function constant(
  dataType: number,
  values: number[],
  dims: number[],
  op: (opType: string, inputs: string[], attrs?: NodeProto['attribute']) => string,
): string {
  const t = dataType === DataType.FLOAT ? { dataType, dims, floatData: values } : { dataType, dims, int64Data: values };
  return op('Constant', [], [{ name: 'value', type: AttributeType.TENSOR, t }]);
}
