/**
 * How a call's leaving values map onto the Python object its forward returned.
 */
import { declaredElemType, type GraphIndex } from '../graph/graph-index.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';
import { isOneTensorLayer } from './module-types.js';
import { recurrentOutputs, type CallOutputs } from './recurrent-outputs.js';

const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/**
 * Orders a call's leaving values as PyTorch returns them, from evidence only. Recurrent modules
 * nest theirs (recurrent-outputs.ts); other tuples take the order their elements reach the graph's
 * outputs in. Several values without that evidence (a U-Net block's `pool(h), h` feeding one node,
 * a dict, an escaped intermediate) make the whole output ambiguous: reported, never guessed.
 */
export function orderCallOutputs(
  index: GraphIndex,
  nodes: readonly number[],
  leaving: readonly string[],
  shared: ReadonlySet<string>,
  ownNodes: readonly number[],
): CallOutputs {
  // Only a recurrent op of the module itself (not of a child module) says how its tuple nests.
  const recurrent = [...ownNodes].reverse().find((n) => RECURRENT_OPS.has(index.nodes[n].opType ?? ''));
  if (recurrent !== undefined) {
    // The op's output layout is the evidence; a value also read inside is an escaped intermediate
    // (a batch-first transpose pair cancelled against the next module's).
    const sinks = leaving.filter((v) => !shared.has(v));
    const nested = sinks.length >= 2 ? recurrentOutputs(index, nodes, sinks, recurrent) : undefined;
    if (nested) return nested;
  }
  let candidates =
    recurrent === undefined
      ? leaving
      : leaving.filter((v) => v !== index.nodes[recurrent].output?.[0] && !shared.has(v));
  // Shape arithmetic shared across modules (the exporter merges `x.size(0)` computed twice) is no element.
  candidates = candidates.filter((v) => !shared.has(v) || !isShapeValue(index, v));
  const cell = recurrent === undefined || candidates.length < 2 ? undefined : cellOrder(index, candidates, recurrent);
  if (cell) return { outputs: cell, outputPaths: cell.map((_, i) => [i]), unobservable: [] };
  if (candidates.length <= 1)
    return { outputs: [...candidates], outputPaths: candidates.map((_, i) => [i]), unobservable: [] };
  const pooled = poolWithIndices(index, candidates, ownNodes);
  if (pooled) return { outputs: pooled, outputPaths: [[0], [1]], unobservable: [], container: true };
  const ordered = byReturnPosition(index, new Set(nodes), candidates, shared);
  if (ordered) return { outputs: ordered, outputPaths: ordered.map((_, i) => [i]), unobservable: [] };
  return { outputs: [], outputPaths: [], unobservable: [{ path: [], reason: ambiguousReason(candidates, shared) }] };
}

export const AMBIGUOUS = 'ambiguous';

const SHAPE_OPS = new Set(['Shape', 'Size', 'ConstantOfShape', 'Range']);
const INT64 = 7;

export function isShapeValue(index: GraphIndex, v: string): boolean {
  const producer = index.producer.get(v);
  if (producer !== undefined && SHAPE_OPS.has(index.nodes[producer].opType ?? '')) return true;
  return declaredElemType(index.types.get(v)) === INT64;
}

function ambiguousReason(values: readonly string[], shared: ReadonlySet<string>): string {
  const names = values.map((v) => `'${v}'${shared.has(v) ? ' (also read inside)' : ''}`).join(', ');
  return `${AMBIGUOUS}: ${values.length} values leave this call (${names}); the graph does not say whether they form a tuple, a dict or an escaped intermediate, nor in which order PyTorch returns them`;
}

/**
 * A cell exported as one step of a recurrent op (LSTMCell: `h, c`): each element derives from one
 * of the op's state outputs, Y_h then Y_c, through squeezes and If branches; that layout is the order.
 */
function cellOrder(index: GraphIndex, values: readonly string[], recurrent: number): string[] | undefined {
  const op = index.nodes[recurrent];
  const origins = values.map((v) => stateOrigins(index, v, op.output ?? []));
  if (origins.some((o) => o.size !== 1 || o.has(0))) return undefined;
  const slot = origins.map((o) => [...o][0]);
  if (new Set(slot).size !== slot.length) return undefined;
  return values
    .map((v, i) => [v, slot[i]] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([v]) => v);
}

/**
 * A max pool with `return_indices=True` (MaxPool2d, AdaptiveMaxPool2d) returns `(output, indices)`:
 * a MaxPool op of the module itself whose Indices output is read is that evidence, and its two
 * outputs' layout the order (the exporter's flattening arithmetic on the indices, and the unread
 * outputs of its helper MaxPool, are no elements). Only when the indices are used: unused, the
 * exporter drops them and the graph shows a plain pool.
 */
function poolWithIndices(index: GraphIndex, values: readonly string[], ownNodes: readonly number[]) {
  const unread = (v: string) =>
    (index.consumers.get(v) ?? []).length === 0 && index.outputPosition.get(v) === undefined;
  const pools = ownNodes.filter((n) => {
    const op = index.nodes[n];
    return op.opType === 'MaxPool' && !unread(op.output?.[0] ?? '') && !unread(op.output?.[1] ?? '');
  });
  if (pools.length !== 1) return undefined;
  const outs = index.nodes[pools[0]].output ?? [];
  const elements = values.filter((v) => !unread(v));
  const slots = elements.map((v) => [...stateOrigins(index, v, outs)]);
  if (elements.length !== 2 || slots.some((s) => s.length !== 1) || slots[0][0] === slots[1][0]) return undefined;
  return slots[0][0] === 0 ? elements : [elements[1], elements[0]];
}

/** Which outputs of the recurrent op (by position) `value` is computed from. */
function stateOrigins(index: GraphIndex, value: string, opOutputs: readonly string[]): Set<number> {
  const found = new Set<number>();
  const seen = new Set([value]);
  const stack = [value];
  while (stack.length && seen.size < 2048) {
    const v = stack.pop()!;
    const slot = opOutputs.indexOf(v);
    if (slot >= 0) {
      found.add(slot);
      continue;
    }
    const p = index.producer.get(v);
    if (p === undefined) continue;
    const node = index.nodes[p];
    const k = (node.output ?? []).indexOf(v);
    // An If's k-th output is its branches' k-th outputs.
    const next =
      node.opType === 'If'
        ? ['then_branch', 'else_branch'].map((attr) => index.subgraph({ node: p, attr })?.output?.[k]?.name ?? '')
        : (node.input ?? []);
    for (const n of next)
      if (n && !seen.has(n)) {
        seen.add(n);
        stack.push(n);
      }
  }
  return found;
}

/**
 * A tuple's order is lost in the graph; where its elements flow on to separate outputs of the graph
 * (or of the subgraph they sit in), in that order, that is evidence.
 */
function byReturnPosition(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  values: readonly string[],
  shared: ReadonlySet<string>,
): string[] | undefined {
  // A value also read inside may be a side effect (a KV cache) or an escaped intermediate: no order.
  if (values.some((v) => shared.has(v))) return undefined;
  const reach = values.map((v) => returnPositions(index, inside, v));
  if (reach.some((r) => r.length === 0)) return undefined;
  const order = values.map((_, i) => i).sort((a, b) => Math.min(...reach[a]) - Math.min(...reach[b]));
  // Separate: every position one element reaches comes before every position the next one reaches.
  for (let k = 1; k < order.length; k++)
    if (Math.max(...reach[order[k - 1]]) >= Math.min(...reach[order[k]])) return undefined;
  return order.map((i) => values[i]);
}

/** Output positions of the first (sub)graph outputs reachable from `start` through nodes outside the call. */
function returnPositions(index: GraphIndex, inside: ReadonlySet<number>, start: string): number[] {
  const positions = new Set<number>();
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length && seen.size < 4096) {
    const value = queue.shift()!;
    const position = index.outputPosition.get(value);
    // Past an output of its (sub)graph a value only reaches the owner node's outputs as a whole.
    if (position !== undefined) {
      positions.add(position);
      continue;
    }
    for (const reader of index.consumers.get(value) ?? []) {
      if (inside.has(reader)) continue;
      for (const out of index.nodes[reader].output ?? [])
        if (out && !seen.has(out)) {
          seen.add(out);
          queue.push(out);
        }
    }
  }
  return [...positions];
}

/**
 * `return x, f(x)` leaves no trace: the element `x` is just the module's input, read outside too.
 * A module whose input is read, next to its output, by one node outside the call (`torch.cat([a, b])`
 * of `a, b = m(x)`) may be returning it: its output is ambiguous, whether or not the module has ops of
 * its own (a leaf too), since a module returning only `f(x)` to a parent computing `cat([x, f(x)])`
 * gives the same graph. A sum is taken as a residual (`x + self.block(x)` stays observable), and a
 * Sequential (numbered children) returns its last child's output.
 */
const RESIDUAL_OPS = new Set(['Add', 'Sum']);

export function passThroughAmbiguity(
  index: GraphIndex,
  info: ModuleInfo,
  call: ModuleCall,
  ownNode: (node: number) => boolean,
): string | undefined {
  if (call.outputs.length !== 1 || call.unobservableOutputs.length > 0) return undefined;
  if (info.children.length > 0 && info.children.every((c) => /\.\d+$/.test(c))) return undefined;
  if (isOneTensorLayer(info)) return undefined;
  const ownOps = call.nodes.some((n) => ownNode(n) && index.nodes[n].opType !== 'Constant');
  const inside = new Set(call.nodes);
  const output = call.outputs[0];
  // `x + f(x)` is a residual, not a tuple: a sum never reads a pair of returned elements in practice.
  const besideOutput = (v: string) =>
    (index.consumers.get(v) ?? []).some(
      (r) => !inside.has(r) && index.reads[r].includes(output) && !RESIDUAL_OPS.has(index.nodes[r].opType ?? ''),
    );
  const input = call.inputs.find(besideOutput);
  if (input === undefined) return returnedBeside(index, call, output, ownOps);
  const reader =
    index.nodes[(index.consumers.get(input) ?? []).find((r) => !inside.has(r) && index.reads[r].includes(output))!];
  const why = ownOps
    ? `a module returning only its output to a parent that computes ${reader.opType}(x, f(x)) gives the same graph`
    : 'the module has no op of its own';
  return `${AMBIGUOUS}: its input '${input}' is read outside the call next to its output (by ${reader.opType} '${reader.name ?? ''}'), so it may return its input as a tuple element (\`return x, f(x)\`), which the graph cannot show; ${why}`;
}

/** `return m(x)` at the top with `m` returning `x, f(x)`: the input and the output both model outputs. */
function returnedBeside(index: GraphIndex, call: ModuleCall, output: string, ownOps: boolean): string | undefined {
  if (index.outputPosition.get(output) === undefined || index.subgraphOutputs.has(output)) return undefined;
  const input = call.inputs.find((v) => index.outputPosition.get(v) !== undefined && !index.subgraphOutputs.has(v));
  if (input === undefined) return undefined;
  const why = ownOps
    ? 'a module returning only its output to a parent that returns (x, f(x)) gives the same graph'
    : 'the module has no op of its own';
  return `${AMBIGUOUS}: its input '${input}' is a model output next to its output, so it may return its input as a tuple element (\`return x, f(x)\`), which the graph cannot show; ${why}`;
}
