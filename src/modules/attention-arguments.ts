/**
 * What `nn.MultiheadAttention`'s forward pre-hook sees: `(query, key, value)`, its three required
 * positional arguments (the masks are keyword arguments in every torch.nn caller). The module is
 * known by its `out_proj`: MultiheadAttention hands `out_proj.weight` to
 * `F.multi_head_attention_forward` instead of calling it, so its own nodes read that parameter.
 * Which value is which comes from the attention's structure: the query is the left operand of the
 * scores `MatMul` (`q @ kᵀ`), the key its right operand, the value the right operand of the `MatMul`
 * after the `Softmax`. In self-attention one value is all three (`in:mha#0`, `#1`, `#2`); a value
 * reaching none of them (a mask) gets no key.
 *
 * A batch-first MultiheadAttention swaps each of its inputs' axes 0 and 1 first. Where one of them
 * enters without that swap while another has it, the exporter cancelled the swap against a transpose
 * before the call (a batch-first MultiheadAttention's output swap: two in a row): the graph holds
 * that input time-major, so it is reported; so are all of them where none has the swap but the
 * output leaves through one.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { walkForward } from '../graph/walk-forward.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';

const QUERY = 0;
const KEY = 1;
const VALUE = 2;

/** The call with MultiheadAttention's `query, key, value` as its inputs; else unchanged. */
export function withAttentionArguments(index: GraphIndex, info: ModuleInfo, call: ModuleCall): ModuleCall {
  const outProj = `${info.name}.out_proj.weight`;
  if (!call.nodes.some((n) => index.nodes[n].input?.includes(outProj))) return call;
  const inside = new Set(call.nodes);
  const softmax = call.nodes.filter((n) => index.nodes[n].opType === 'Softmax');
  if (softmax.length !== 1) return call;
  const scores = matMulBefore(index, inside, index.nodes[softmax[0]].input?.[0] ?? '');
  const context = matMulAfter(index, inside, index.nodes[softmax[0]].output?.[0] ?? '');
  if (scores === undefined || context === undefined) return call;
  const operands = [
    index.nodes[scores].input?.[0] ?? '',
    index.nodes[scores].input?.[1] ?? '',
    index.nodes[context].input?.[1] ?? '',
  ];
  const entering = [...new Set(call.inputs)];
  const roles: number[][] = entering.map((v) => rolesOf(index, inside, v, operands, [scores, context]));
  const byRole = [QUERY, KEY, VALUE].map((role) => entering.filter((_, i) => roles[i].includes(role)));
  if (byRole.some((values) => values.length !== 1)) return call;
  const inputs = byRole.map((values) => values[0]);
  const swapped = inputs.map((v) => readsThroughSwap(index, inside, v));
  const batchFirst = swapped.some(Boolean) || leavesThroughSwap(index, inside);
  const cancelled = batchFirst ? inputs.filter((_, i) => !swapped[i]) : [];
  const opaqueReasons = new Map(call.opaqueReasons);
  for (const v of cancelled) opaqueReasons.set(v, CANCELLED_SWAP_REASON);
  const opaque = call.opaqueInputs.filter((v) => inputs.includes(v));
  return {
    ...call,
    inputs,
    inputPaths: [[QUERY], [KEY], [VALUE]],
    opaqueInputs: [...new Set([...opaque, ...cancelled])],
    opaqueReasons,
  };
}

export const CANCELLED_SWAP_REASON =
  "this batch-first MultiheadAttention swaps its other inputs' axes 0 and 1, but not this one: the exporter cancelled its swap against a transpose before the call (a batch-first MultiheadAttention's output swap), so the graph holds it time-major";

/** A swap of axes 0 and 1 whose result leaves the call: a batch-first module's output swap. */
function leavesThroughSwap(index: GraphIndex, inside: ReadonlySet<number>): boolean {
  return [...inside].some((n) => {
    const out = index.nodes[n].output?.[0] ?? '';
    const leaves = index.outputPosition.has(out) || (index.consumers.get(out) ?? []).some((r) => !inside.has(r));
    return leaves && isSwap(index, n);
  });
}

function isSwap(index: GraphIndex, n: number): boolean {
  const node = index.nodes[n];
  const perm = node.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
  return node.opType === 'Transpose' && perm?.length === 3 && perm[0] === 1 && perm[1] === 0;
}

/** The call reads `value` through a Transpose with axes 0 and 1 swapped (a batch-first module's own swap). */
export function readsThroughSwap(index: GraphIndex, inside: ReadonlySet<number>, value: string): boolean {
  return (index.consumers.get(value) ?? []).some((r) => inside.has(r) && isSwap(index, r));
}

/** The MatMul a value comes from through shape and scaling ops (`q @ kᵀ / √d + mask`). */
function matMulBefore(index: GraphIndex, inside: ReadonlySet<number>, value: string): number | undefined {
  let v = value;
  for (let step = 0; step < 8; step++) {
    const p = index.producer.get(v);
    if (p === undefined || !inside.has(p)) return undefined;
    const node = index.nodes[p];
    if (node.opType === 'MatMul') return p;
    // Follow the operand that is not a constant or a mask: the one produced by a MatMul chain.
    const next = (node.input ?? []).find((i) => {
      const q = index.producer.get(i);
      return q !== undefined && inside.has(q) && dependsOnMatMul(index, inside, i);
    });
    if (next === undefined) return undefined;
    v = next;
  }
  return undefined;
}

function dependsOnMatMul(index: GraphIndex, inside: ReadonlySet<number>, value: string): boolean {
  const seen = new Set<string>();
  const stack = [value];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const p = index.producer.get(v);
    if (p === undefined || !inside.has(p)) continue;
    if (index.nodes[p].opType === 'MatMul') return true;
    stack.push(...(index.nodes[p].input ?? []));
  }
  return false;
}

/** The first MatMul reading `value` as its left operand (through a Dropout-free chain of one-input ops). */
function matMulAfter(index: GraphIndex, inside: ReadonlySet<number>, value: string): number | undefined {
  let v = value;
  for (let step = 0; step < 4; step++) {
    const readers = (index.consumers.get(v) ?? []).filter((r) => inside.has(r));
    const matmul = readers.find((r) => index.nodes[r].opType === 'MatMul' && index.nodes[r].input?.[0] === v);
    if (matmul !== undefined) return matmul;
    const next = readers.find((r) => (index.nodes[r].input ?? []).filter(Boolean).length === 1);
    if (next === undefined) return undefined;
    v = index.nodes[next].output?.[0] ?? '';
  }
  return undefined;
}

/** Which of the operands (query, key, value) a call input flows into, not through the two MatMuls. */
function rolesOf(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  start: string,
  operands: readonly string[],
  stops: readonly number[],
): number[] {
  const reached = walkForward(
    index,
    inside,
    start,
    (reader) => !stops.includes(reader) && index.nodes[reader].opType !== 'Shape',
  );
  return operands.flatMap((o, role) => (reached.has(o) ? [role] : []));
}
