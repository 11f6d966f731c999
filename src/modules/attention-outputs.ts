/**
 * `nn.MultiheadAttention.forward` always returns a tuple, `(attn_output, attn_weights)`, the weights
 * None under `need_weights=False` (torchvision's ViT: `x, _ = self.self_attention(x, x, x,
 * need_weights=False)`). Its hook output is that tuple, so its keys are `#0` and `#1`, never the bare
 * name, even when the graph holds only the attention output.
 *
 * The evidence that a module is one (TorchScript exports record no class names): parameters named as
 * nn.MultiheadAttention names them (`in_proj_weight`, `in_proj_bias`, `q_proj_weight`, …) and its
 * child `out_proj`'s parameters read by the module's own nodes, since `F.multi_head_attention_forward`
 * uses `out_proj.weight` without calling `out_proj` (a custom attention that calls its `out_proj`
 * Linear, as open_clip's does, is not taken for one). Where the exporter deduplicated equal
 * initializers, a node reads the parameter through an Identity that keeps its name. With out_proj's evidence alone (separate q/k/v weights, folded into anonymous constants) the
 * module is reported ambiguous. The dynamo exporter's class name says it directly.
 */
import { type GraphIndex, isParameter } from '../graph/graph-index.js';
import { AMBIGUOUS, isShapeValue } from './call-outputs.js';
import { readsThroughSwap } from './attention-arguments.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';

const IN_PROJECTION = /(^|\.)(in_proj_weight|in_proj_bias|q_proj_weight|k_proj_weight|v_proj_weight)$/;

export const NO_ATTENTION_WEIGHTS =
  'nn.MultiheadAttention returns (attn_output, attn_weights), and the graph holds no attention weights: it was called with need_weights=False (the element is None) or the model never uses them (the exporter removes unused values)';

const MAYBE_ATTENTION =
  "ambiguous: its own nodes read its child out_proj's parameters without calling out_proj, as nn.MultiheadAttention does (which returns a tuple, (attn_output, attn_weights)), but no in_proj parameter name survives the export to confirm it (a custom attention returning one tensor gives the same graph)";

/** Own nodes of the module reading an initializer that `named` accepts. */
function ownReaders(
  index: GraphIndex,
  info: ModuleInfo,
  own: (node: number) => boolean,
  named: (v: string) => boolean,
): Set<number> {
  const readers = new Set<number>();
  for (const call of info.calls)
    for (const n of call.nodes)
      if (own(n) && index.reads[n].some((v) => isParameter(index, v) && named(v))) readers.add(n);
  return readers;
}

/** 'yes' from a class name or both projections' parameter names, 'maybe' from out_proj's alone. */
function isMultiheadAttention(
  index: GraphIndex,
  info: ModuleInfo,
  own: (node: number) => boolean,
  outProj: ReadonlySet<number>,
): 'yes' | 'maybe' | 'no' {
  if (info.typeSource === 'export') return info.type === 'MultiheadAttention' ? 'yes' : 'no';
  if (outProj.size === 0) return 'no';
  const named = [...index.initializers].some((v) => v.startsWith(`${info.name}.`) && IN_PROJECTION.test(v));
  return named || ownReaders(index, info, own, (v) => IN_PROJECTION.test(v)).size > 0 ? 'yes' : 'maybe';
}

/** Whether `value` is computed (inside the call) from one of `nodes`' outputs. */
function computedFrom(index: GraphIndex, inside: ReadonlySet<number>, value: string, nodes: ReadonlySet<number>) {
  const seen = new Set([value]);
  const stack = [value];
  while (stack.length) {
    const p = index.producer.get(stack.pop()!);
    if (p === undefined || !inside.has(p)) continue;
    if (nodes.has(p)) return true;
    for (const v of index.reads[p])
      if (!seen.has(v)) {
        seen.add(v);
        stack.push(v);
      }
  }
  return false;
}

/** Values produced in the call and read after it (or returned by the graph), shape arithmetic aside. */
function leavingValues(index: GraphIndex, call: ModuleCall): string[] {
  const inside = new Set(call.nodes);
  const graphOutputs = new Set(index.outputs);
  return call.nodes
    .flatMap((n) => index.nodes[n].output ?? [])
    .filter(
      (v) =>
        v &&
        !isShapeValue(index, v) &&
        (graphOutputs.has(v) || (index.consumers.get(v) ?? []).some((r) => !inside.has(r))),
    );
}

/**
 * The call's outputs as `(attn_output, attn_weights)`: the last value computed through `out_proj` is
 * element 0 (one before it, read outside too, is an intermediate a cancelled transpose let escape:
 * the next module reads the time-major value), a value not computed through it is the weights;
 * anything else is left as the general rules found it.
 */
function attentionTuple(index: GraphIndex, call: ModuleCall, outProj: ReadonlySet<number>): ModuleCall | undefined {
  // The general rules' ambiguity (several values, a possible pass-through) is settled by the known
  // layout; any other reason (a fused or folded value) stands.
  if (call.unobservableOutputs.some((u) => !u.reason.startsWith(AMBIGUOUS))) return undefined;
  const inside = new Set(call.nodes);
  const leaving = leavingValues(index, call);
  if (leaving.length === 0) return undefined;
  // Without out_proj's parameters (a class name from dynamo metadata) only a lone output is placed.
  const through =
    outProj.size === 0 && leaving.length === 1
      ? [...leaving]
      : leaving.filter((v) => computedFrom(index, inside, v, outProj));
  const producers = (v: string) => new Set([index.producer.get(v)!]);
  const projected = through.filter(
    (v) => !through.some((w) => w !== v && computedFrom(index, inside, w, producers(v))),
  );
  // The weights are softmax(QKᵀ) (averaged over heads or not): a value leaving the call that no
  // Softmax of it computes (the causal mask it unsqueezed, which the exporter shares with the next
  // layer's attention) is an intermediate another module reads, not a tuple element.
  const softmax = new Set(call.nodes.filter((n) => index.nodes[n].opType === 'Softmax'));
  const weights = leaving.filter((v) => !through.includes(v) && computedFrom(index, inside, v, softmax));
  if (projected.length !== 1 || weights.length > 1) return undefined;
  // Batch-first (its inputs swapped) but the output leaves without the swap back: the exporter
  // cancelled it against the next module's, so the graph holds attn_output time-major.
  const unswapped = call.inputs.some((v) => readsThroughSwap(index, inside, v)) && !producedBySwap(index, projected[0]);
  const missing = [
    ...(unswapped ? [{ path: [0], reason: CANCELLED_OUTPUT_SWAP }] : []),
    ...(weights.length ? [] : [{ path: [1], reason: NO_ATTENTION_WEIGHTS }]),
  ];
  const kept = unswapped ? weights : [projected[0], ...weights];
  return {
    ...call,
    container: true,
    outputs: kept,
    outputPaths: unswapped ? kept.map(() => [1]) : weights.length ? [[0], [1]] : [[0]],
    unobservableOutputs: missing,
  };
}

const CANCELLED_OUTPUT_SWAP =
  "this batch-first MultiheadAttention's output swap back to batch-first was cancelled by the exporter against the next module's input swap, so the graph holds attn_output time-major";

function producedBySwap(index: GraphIndex, value: string): boolean {
  const node = index.nodes[index.producer.get(value) ?? -1];
  const perm = node?.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
  return node?.opType === 'Transpose' && perm?.length === 3 && perm[0] === 1 && perm[1] === 0;
}

/**
 * `attn(x, x, x)`: the query, key and value are one tensor when the module reads one value, once,
 * through one MatMul (after one transpose when batch_first) whose weight is the packed `[E, 3E]`
 * in-projection (`F._in_projection_packed` takes that path only when `query is key is value`). Then
 * the pre-hook's three inputs are that value, passed positionally as PyTorch's own callers do
 * (`nn.TransformerEncoderLayer`); keyword arguments never reach a pre-hook (see the README's limits).
 */
function selfAttentionInputs(index: GraphIndex, call: ModuleCall, own: (node: number) => boolean): string[] {
  if (call.inputs.length !== 1) return [...call.inputs];
  const x = call.inputs[0];
  const readersOf = (v: string) => call.nodes.filter((n) => index.reads[n].includes(v));
  let readers = readersOf(x);
  // batch_first: one transpose of all three (`query = key = value = query.transpose(1, 0)`).
  if (readers.length === 1 && index.nodes[readers[0]].opType === 'Transpose')
    readers = readersOf(index.nodes[readers[0]].output?.[0] ?? '');
  const node = index.nodes[readers[0]];
  if (readers.length !== 1 || !own(readers[0]) || node.opType !== 'MatMul') return [...call.inputs];
  const weight = (index.graph.initializer ?? []).find((t) => t.name === node.input?.[1]);
  const dims = (weight?.dims ?? []).map(Number);
  return dims.length === 2 && dims[1] === 3 * dims[0] ? [x, x, x] : [...call.inputs];
}

/**
 * Gives every nn.MultiheadAttention call its tuple keys (`attn#0`, and `attn#1` returned or
 * reported). A module reading another one's `out_proj.weight` is that module's clone (a random
 * weight equals only a copy's) whose own initializer the exporter deduplicated and ONNX Runtime's
 * optimiser then read directly, past the Identity: it is one once the original is known to be one.
 */
export function markAttentionTuples(
  index: GraphIndex,
  modules: Iterable<ModuleInfo>,
  ownerOf: (node: number) => string | undefined,
): void {
  const list = [...modules];
  const found = new Set<string>();
  for (const twins of [false, true])
    for (const info of list) {
      if (found.has(info.name)) continue;
      const own = (n: number) => ownerOf(n) === info.name;
      const weight = (v: string) =>
        v === `${info.name}.out_proj.weight` ||
        (twins && v.endsWith('.out_proj.weight') && found.has(v.slice(0, -'.out_proj.weight'.length)));
      const outProj = ownReaders(index, info, own, weight);
      const verdict = isMultiheadAttention(index, info, own, outProj);
      if (verdict === 'no' || (verdict === 'maybe' && !twins)) continue;
      found.add(info.name);
      markCalls(index, info, verdict, outProj, own);
    }
}

function markCalls(
  index: GraphIndex,
  info: ModuleInfo,
  verdict: 'yes' | 'maybe',
  outProj: ReadonlySet<number>,
  own: (node: number) => boolean,
): void {
  if (verdict === 'yes') info.type = 'MultiheadAttention';
  info.calls.forEach((call, i) => {
    if (verdict === 'maybe')
      info.calls[i] = {
        ...call,
        outputs: [],
        outputPaths: [],
        unobservableOutputs: [{ path: [], reason: MAYBE_ATTENTION }],
      };
    else {
      const tuple = attentionTuple(index, call, outProj) ?? call;
      info.calls[i] = { ...tuple, inputs: selfAttentionInputs(index, tuple, own) };
    }
  });
}
