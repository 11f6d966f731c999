/**
 * Builds the graph a capture runs: requested values become graph outputs, optionally reduced inside
 * the graph (so only small tensors leave the runtime) and optionally pruned to what they need
 * (early stop: nodes after the last requested value never run).
 * Nodes, initializers and weight payloads are shared with the original model, never copied.
 */
import { NeurotapError } from '../errors.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/types.js';
import { AttributeType, DataType } from '../onnx/types.js';
import { appendDerivation, derivationKey, type Derivation } from './derive.js';
import { applyGraphEdits, type GraphEdit } from './edit.js';
import { nodeReads, type ContextStep, type GraphIndex } from './graph-index.js';
import { quantParams, type QuantParams } from './quantization.js';
import { inferElemType } from './elem-type.js';
import { GraphEditor } from './thread.js';
import { raggedLoopDepth, threadRagged } from './thread-ragged.js';

const FLOAT = 1;

/**
 * In-graph reductions. `mean`/`max`: over every axis after the channel axis (N, C, ...) → (N, C).
 * `time-mean`/`time-max`: over axis 1 of (N, T, ...) → (N, ...). `last`: the last step of axis 1.
 */
export type Reduction = 'none' | 'mean' | 'max' | 'time-mean' | 'time-max' | 'last';
export const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'max', 'time-mean', 'time-max', 'last'];

export interface ExposeRequest {
  readonly value: string;
  readonly reduce: Reduction;
  /** Turn a quantized value into the float it stands for (its scale and zero point), in the graph. */
  readonly dequantize?: boolean;
  /** With edits: the depth of the module reading the value (edits of shallower modules on it not applied). */
  readonly editDepth?: number;
  /** A value a fused op hides, re-opened or recomputed next to it (derive.ts); `value` is then its anchor. */
  readonly derive?: Derivation;
  /** Return a float32 value as float16 (a Cast at the end, in the graph): half the bytes, lossy. */
  readonly float16?: boolean;
  /** Return only the value's shape (a Shape node): for a reshape of a captured value, viewed in JS. */
  readonly shape?: boolean;
}

export interface CaptureGraph {
  readonly model: ModelProto;
  /** The graph output carrying each request, keyed by `requestKey`. */
  readonly outputOf: ReadonlyMap<string, string>;
  /** Requests living in an If inside a Loop: their output holds only the taken iterations (thread-ragged.ts). */
  readonly ragged: ReadonlyMap<string, RaggedMeta>;
}

export interface RaggedMeta {
  /** The graph output holding one record per taken iteration. */
  readonly meta: string;
  readonly loops: number;
}

export const requestKey = (r: ExposeRequest) =>
  `${r.value}\u0000${r.reduce}\u0000${r.dequantize === true}\u0000${r.editDepth ?? ''}\u0000${derivationKey(r.derive)}${r.float16 ? '\u0000f16' : ''}${r.shape ? '\u0000shape' : ''}`;

export function buildCaptureGraph(
  model: ModelProto,
  index: GraphIndex,
  requests: readonly ExposeRequest[],
  keepModelOutputs: boolean,
  edits: readonly GraphEdit[] = [],
): CaptureGraph {
  const opset = defaultOpset(model);
  const editor = new GraphEditor(index, model.graph ?? {});
  const edited = applyGraphEdits(editor, index, edits);
  const outputOf = new Map<string, string>();
  const ragged = new Map<string, RaggedMeta>();
  for (const r of requests) {
    if (outputOf.has(requestKey(r))) continue;
    const steps = valueContext(index, r.value);
    const quant = r.dequantize ? quantParams(index, r.value) : undefined;
    const read = r.derive ? appendDerivation(editor, r.derive, index) : edited(r.value, r.editDepth);
    const source = quant ? appendDequantize(read, quant, editor.graphAt(steps), editor) : read;
    // Reduce where the value lives, so a loop stacks the small reduced tensors.
    const reduced =
      r.reduce === 'none' ? source : appendReduction({ ...r, value: source }, opset, editor.graphAt(steps), editor);
    const local = r.shape
      ? appendShape(reduced, editor.graphAt(steps), editor)
      : r.float16
        ? appendCast(reduced, DataType.FLOAT16, editor.graphAt(steps), editor)
        : reduced;
    if (raggedLoopDepth(index, steps) >= 0) {
      const elemType = r.float16 ? DataType.FLOAT16 : quant ? FLOAT : (inferElemType(index, r.value) ?? FLOAT);
      const { data, meta, loops } = threadRagged(editor, index, local, steps, elemType);
      outputOf.set(requestKey(r), data);
      ragged.set(requestKey(r), { meta, loops });
    } else outputOf.set(requestKey(r), steps.length ? editor.threadOut(local, steps) : local);
  }
  const graph = editor.root;
  const outputs: ValueInfoProto[] = keepModelOutputs ? [...(graph.output ?? [])] : [];
  const listed = new Set(outputs.map((o) => o.name));
  for (const name of [...outputOf.values(), ...[...ragged.values()].map((m) => m.meta)]) {
    if (listed.has(name) || index.initializers.has(name) || index.inputs.includes(name)) continue;
    listed.add(name);
    const type = index.types.get(name);
    outputs.push(type ? { name, type } : { name });
  }
  let nodes = graph.node ?? [];
  let initializers = graph.initializer ?? [];
  if (!keepModelOutputs)
    ({ nodes, initializers } = pruneTo(
      nodes,
      initializers,
      outputs.map((o) => o.name ?? ''),
    ));
  return {
    model: { ...model, graph: { ...graph, node: nodes, initializer: initializers, output: outputs } },
    outputOf,
    ragged,
  };
}

function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx');
  return Number(entry?.version ?? 13);
}

function int64Constant(name: string, values: number[], dims: number[]): NodeProto {
  return {
    opType: 'Constant',
    name,
    output: [name],
    attribute: [
      { name: 'value', type: AttributeType.TENSOR, t: { name, dataType: DataType.INT64, dims, int64Data: values } },
    ],
  };
}

function appendDequantize(value: string, q: QuantParams, graph: GraphProto, editor: GraphEditor): string {
  const out = editor.fresh(`${value}::dequantized`);
  const inputs = q.zeroPoint ? [value, q.scale, q.zeroPoint] : [value, q.scale];
  (graph.node ??= []).push({ opType: 'DequantizeLinear', name: out, input: inputs, output: [out] });
  return out;
}

function appendShape(value: string, graph: GraphProto, editor: GraphEditor): string {
  const out = editor.fresh(`${value}::shape`);
  (graph.node ??= []).push({ opType: 'Shape', name: out, input: [value], output: [out] });
  return out;
}

function appendCast(value: string, to: number, graph: GraphProto, editor: GraphEditor): string {
  const out = editor.fresh(`${value}::float16`);
  (graph.node ??= []).push({
    opType: 'Cast',
    name: out,
    input: [value],
    output: [out],
    attribute: [{ name: 'to', type: AttributeType.INT, i: to }],
  });
  return out;
}

/** Adds the nodes computing one reduction of `value` to the graph holding it; returns the result's name. */
function appendReduction(r: ExposeRequest, opset: number, graph: GraphProto, editor: GraphEditor): string {
  const nodes = (graph.node ??= []);
  const base = editor.fresh(`${r.value}::${r.reduce}`);
  const out = `${base}::out`;
  const reduceOp = r.reduce.endsWith('max') ? 'ReduceMax' : 'ReduceMean';
  if (r.reduce === 'last') {
    nodes.push(int64Constant(`${base}::index`, [-1], []));
    nodes.push({
      opType: 'Gather',
      name: `${base}::gather`,
      input: [r.value, `${base}::index`],
      output: [out],
      attribute: [{ name: 'axis', type: AttributeType.INT, i: 1 }],
    });
    return out;
  }
  let source = r.value;
  let axis = 1;
  if (r.reduce === 'mean' || r.reduce === 'max') {
    // Flatten every axis after the channel one, so any rank ≥ 2 reduces to (N, C).
    nodes.push(int64Constant(`${base}::shape`, [0, 0, -1], [3]));
    source = `${base}::flat`;
    nodes.push({ opType: 'Reshape', name: `${base}::reshape`, input: [r.value, `${base}::shape`], output: [source] });
    axis = 2;
  }
  const keepdims = { name: 'keepdims', type: AttributeType.INT, i: 0 };
  // Opset 18 moved `axes` from an attribute to an input.
  if (opset >= 18) {
    nodes.push(int64Constant(`${base}::axes`, [axis], [1]));
    nodes.push({
      opType: reduceOp,
      name: `${base}::reduce`,
      input: [source, `${base}::axes`],
      output: [out],
      attribute: [keepdims],
    });
  } else {
    nodes.push({
      opType: reduceOp,
      name: `${base}::reduce`,
      input: [source],
      output: [out],
      attribute: [keepdims, { name: 'axes', type: AttributeType.INTS, ints: [axis] }],
    });
  }
  return out;
}

/** Keeps only the nodes (and initializers) that the outputs depend on. */
function pruneTo(
  nodes: NodeProto[],
  initializers: TensorProto[],
  outputs: string[],
): { nodes: NodeProto[]; initializers: TensorProto[] } {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const needed = new Set<string>(outputs);
  const keep = new Set<number>();
  const queue = [...outputs];
  while (queue.length) {
    const p = producer.get(queue.pop()!);
    if (p === undefined || keep.has(p)) continue;
    keep.add(p);
    for (const v of nodeReads(nodes[p]))
      if (!needed.has(v)) {
        needed.add(v);
        queue.push(v);
      }
  }
  if (keep.size === 0 && outputs.length > 0 && outputs.every((o) => !producer.has(o))) {
    throw new NeurotapError('E_BAD_ARGUMENT', 'Nothing to compute: every requested value is a graph input.', {
      hint: 'Request module outputs or values computed by the graph.',
    });
  }
  return {
    nodes: nodes.filter((_, i) => keep.has(i)),
    initializers: initializers.filter((t) => needed.has(t.name ?? '')),
  };
}

/** The subgraph nesting a value lives in: its producer's, or for subgraph inputs, its readers'. */
export function valueContext(index: GraphIndex, value: string): readonly ContextStep[] {
  const producer = index.producer.get(value);
  if (producer !== undefined) return index.context[producer];
  const readers = index.consumers.get(value) ?? [];
  if (readers.length === 0 || index.inputs.includes(value)) return [];
  return readers.map((r) => index.context[r]).reduce((a, b) => (b.length < a.length ? b : a));
}
