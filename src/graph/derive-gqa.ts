/**
 * The probabilities inside ONNX Runtime's `GroupQueryAttention` (com.microsoft), recomputed beside
 * it from its own inputs and outputs, per the contrib op's definition:
 * - queries: `query` [batch, seq, num_heads·head] (or the first num_heads·head of packed QKV), with
 *   rotary (`do_rotary`, half-split, `cos_cache`/`sin_cache` rows at each token's position) applied;
 * - keys: its `present_key` output [batch, kv_num_heads, total, head]: the past and the new keys,
 *   already rotated by the kernel, query head h reading key head h / (num_heads / kv_num_heads);
 * - positions: sequence b holds `seqlens_k[b] + 1` tokens (right padding), the new ones last, so
 *   query i sits at `max(total_b − seq, 0) + i` (0 + i on a first prompt);
 * - `softmax(QKᵀ·scale)` over the keys at or before each query's position and inside its sequence
 *   (and, with `local_window_size` W, after position − W: measured against torch's sliding window W),
 *   a `softcap` c turning the scaled scores into c·tanh(scores / c) first,
 *   in float32 (HF's eager attention takes its softmax in float32 too).
 * Forms it does not recompute are reported by `gqaRecipe` with what they have.
 */
import type { GraphIndex } from './graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import { AttributeType, DataType } from '../onnx/types.js';
import { attr, nodeBuilder, type NodeBuilder } from './derive.js';

export interface GqaRecipe {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headSize: number;
  readonly packed: boolean;
  readonly rotary: boolean;
  /** `local_window_size`: each query sees itself and the window − 1 keys before it (−1: no window). */
  readonly window: number;
  /** `softcap` c > 0: scores become c·tanh(scores / c) after the scale (Gemma 2's); 0: none. */
  readonly softcap: number;
}

const int = (node: NodeProto, name: string, fallback: number) => Number(attr(node, name)?.i ?? fallback);

/** A value's last dimension, where an initializer or a declared shape gives it. */
function lastDim(index: GraphIndex, value: string | undefined): number | undefined {
  if (!value) return undefined;
  const init = index.graph.initializer?.find((t) => t.name === value);
  const dims = init ? init.dims : index.types.get(value)?.tensorType?.shape?.dim?.map((d) => d.dimValue);
  const last = dims?.[dims.length - 1];
  return last === undefined || last === null || Number(last) <= 0 ? undefined : Number(last);
}

/** The head size: the caches' last dimension, or the query (or packed QKV) projection's weight width / heads. */
function headSizeOf(index: GraphIndex, node: NodeProto, heads: number, kvHeads: number): number | undefined {
  const [query, key, , pastKey] = node.input ?? [];
  const fromCache = lastDim(index, pastKey) ?? lastDim(index, node.output?.[1]);
  if (fromCache) return fromCache;
  const at = index.producer.get(query);
  const producer = at === undefined ? undefined : index.nodes[at];
  const width = producer?.opType === 'MatMul' ? lastDim(index, producer.input?.[1]) : undefined;
  const perHead = key ? heads : heads + 2 * kvHeads;
  return width && width % perHead === 0 ? width / perHead : undefined;
}

/** Why a GroupQueryAttention's probabilities cannot be recomputed, or what recomputing them needs. */
export function gqaRecipe(index: GraphIndex, node: NodeProto): GqaRecipe | { reason: string } {
  const heads = int(node, 'num_heads', 0);
  const kvHeads = int(node, 'kv_num_heads', 0);
  const input = node.input ?? [];
  const rotary = int(node, 'do_rotary', 0) !== 0;
  const headSize = heads > 0 ? headSizeOf(index, node, heads, kvHeads) : undefined;
  const cosHalf = lastDim(index, input[7]);
  const softcap = Number(attr(node, 'softcap')?.f ?? 0);
  const unsupported = [
    !(heads > 0 && kvHeads > 0 && heads % kvHeads === 0) &&
      `num_heads ${heads} not a multiple of kv_num_heads ${kvHeads}`,
    !node.output?.[1] && 'no present_key output',
    headSize === undefined && 'a head size no initializer or declared shape gives',
    softcap < 0 && 'a negative softcap',
    int(node, 'smooth_softmax', 0) !== 0 && 'smooth_softmax',
    rotary && int(node, 'rotary_interleaved', 0) !== 0 && 'interleaved rotary embeddings',
    rotary && cosHalf === undefined && 'rotary caches of unknown width',
    rotary && headSize !== undefined && cosHalf !== undefined && cosHalf * 2 !== headSize && 'partial rotary',
    input[9] && 'a position_ids input',
    input[10] && 'an attention_bias input',
    input[11] && 'a head_sink input',
  ].filter((x): x is string => typeof x === 'string');
  if (unsupported.length) return { reason: `its probabilities cannot be recomputed: it has ${unsupported.join(', ')}` };
  const window = int(node, 'local_window_size', -1);
  return { heads, kvHeads, headSize: headSize!, packed: !input[1], rotary, window: window > 0 ? window : -1, softcap };
}

const toFloat = (b: NodeBuilder, t: string) =>
  b.op('Cast', [t], [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }]);
const toInt64 = (b: NodeBuilder, t: string) =>
  b.op('Cast', [t], [{ name: 'to', type: AttributeType.INT, i: DataType.INT64 }]);
const axisAttr = (axis: number) => [{ name: 'axis', type: AttributeType.INT, i: axis }];
const permAttr = (p: number[]) => [{ name: 'perm', type: AttributeType.INTS, ints: p }];

/** Each query token's position, [batch, seq], and each sequence's length, [batch]. */
function positions(b: NodeBuilder, query: string, seqlensK: string): { pos: string; total: string } {
  const total = b.op('Add', [toInt64(b, seqlensK), b.intScalar(1)]);
  const seq = b.op('Gather', [b.op('Shape', [query]), b.intScalar(1)], axisAttr(0));
  const behind = b.op('Sub', [total, seq]);
  const past = b.op('Where', [b.op('Less', [behind, b.intScalar(0)]), b.intScalar(0), behind]);
  const steps = b.op('Range', [b.intScalar(0), seq, b.intScalar(1)]);
  return { pos: b.op('Add', [b.op('Reshape', [past, b.ints([-1, 1])]), steps]), total };
}

/** Half-split rotary on [batch, seq, heads, head]: (x1·cos − x2·sin, x2·cos + x1·sin). */
function rotate(b: NodeBuilder, q: string, pos: string, cosCache: string, sinCache: string, half: number): string {
  const row = (cache: string) =>
    b.op('Reshape', [toFloat(b, b.op('Gather', [cache, pos], axisAttr(0))), b.ints([0, 0, 1, -1])]);
  const cos = row(cosCache);
  const sin = row(sinCache);
  const x1 = b.op('Slice', [q, b.ints([0]), b.ints([half]), b.ints([3])]);
  const x2 = b.op('Slice', [q, b.ints([half]), b.ints([2 * half]), b.ints([3])]);
  const r1 = b.op('Sub', [b.op('Mul', [x1, cos]), b.op('Mul', [x2, sin])]);
  const r2 = b.op('Add', [b.op('Mul', [x2, cos]), b.op('Mul', [x1, sin])]);
  return b.op('Concat', [r1, r2], axisAttr(3));
}

export function appendGqaProbs(
  editor: { fresh(hint: string): string },
  nodes: NodeProto[],
  at: number,
  index: GraphIndex,
): string {
  const node = nodes[at];
  const recipe = gqaRecipe(index, node);
  if ('reason' in recipe) throw new Error(`attention-probs on an unsupported node: ${recipe.reason}`);
  const { heads, kvHeads, headSize, packed, rotary, window, softcap } = recipe;
  const input = node.input ?? [];
  const b = nodeBuilder(editor.fresh(`${node.output?.[0]}::probs`));
  const { op, ints } = b;
  const query = packed ? op('Slice', [input[0], ints([0]), ints([heads * headSize]), ints([2])]) : input[0];
  const { pos, total } = positions(b, input[0], input[5]);
  let q = toFloat(b, op('Reshape', [query, ints([0, 0, heads, headSize])]));
  if (rotary) q = rotate(b, q, pos, input[7], input[8], headSize / 2);
  // [batch, kv_heads, group, seq, head] against [batch, kv_heads, 1, head, total]: head h reads kv head h / group.
  const group = heads / kvHeads;
  const q5 = op('Reshape', [op('Transpose', [q], permAttr([0, 2, 1, 3])), ints([0, kvHeads, group, -1, headSize])]);
  const totalLength = toInt64(b, op('Reshape', [input[6], ints([1])]));
  const keys = toFloat(b, op('Slice', [node.output![1], ints([0]), totalLength, ints([2])]));
  const keysT = op('Transpose', [op('Reshape', [keys, ints([0, 0, 1, -1, headSize])])], permAttr([0, 1, 2, 4, 3]));
  const scale = Number(attr(node, 'scale')?.f ?? 0) || 1 / Math.sqrt(headSize);
  const scores5 = op('Mul', [op('MatMul', [q5, keysT]), b.floatScalar(scale)]);
  const shape5 = op('Shape', [scores5]);
  const shape4 = op(
    'Concat',
    [op('Slice', [shape5, ints([0]), ints([1])]), ints([heads]), op('Slice', [shape5, ints([3]), ints([5])])],
    axisAttr(0),
  );
  const scaled = op('Reshape', [scores5, shape4]);
  const cap = b.floatScalar(softcap);
  const scores = softcap > 0 ? op('Mul', [op('Tanh', [op('Div', [scaled, cap])]), cap]) : scaled;
  // Key j is hidden from query i of sequence b when it comes after i's position or past b's length.
  const key = op('Range', [b.intScalar(0), op('Gather', [shape5, b.intScalar(4)], axisAttr(0)), b.intScalar(1)]);
  const pos4 = op('Reshape', [pos, ints([0, 1, -1, 1])]);
  const after = op('Greater', [key, pos4]);
  const outside = op('Not', [op('Less', [key, op('Reshape', [total, ints([-1, 1, 1, 1])])])]);
  let hidden = op('Or', [after, outside]);
  // A local window (Mistral's sliding_window): key j is seen only when pos − window < j.
  if (window > 0)
    hidden = op('Or', [hidden, op('Not', [op('Greater', [key, op('Sub', [pos4, b.intScalar(window)])])])]);
  const masked = op('Where', [hidden, b.floatScalar(-3.4028234663852886e38), scores]);
  const probs = op('Softmax', [masked], axisAttr(3));
  nodes.splice(at + 1, 0, ...b.added);
  return probs;
}
