/**
 * Threads a value out of an If that sits inside a Loop body. Stacking it per iteration (as for a
 * plain loop body) cannot work: in the iterations where the other branch runs there is no value,
 * and ONNX Runtime requires every iteration's output to have one shape. Instead the value is
 * collected only where it was computed:
 * - the outermost such Loop carries two extra sequences (started with an empty tensor each);
 * - where the value is computed, its elements (flattened) go into the first, and a record
 *   `[iteration of each enclosing Loop…, rank, dims…]` into the second;
 * - each If on the way returns the updated sequences from the branch holding the value and the
 *   unchanged ones from the other branch; inner Loops carry them too;
 * - after the outer Loop, ConcatFromSequence turns both into flat tensors, returned as usual.
 * `splitRagged` turns the two back into one tensor per taken iteration.
 */
import type { GraphProto, NodeProto, TypeProto } from '../onnx/types.js';
import { AttributeType } from '../onnx/types.js';
import type { ContextStep, GraphIndex } from './graph-index.js';
import type { GraphEditor } from './thread.js';

const INT64 = 7;

export interface RaggedOutputs {
  /** Every taken iteration's elements, concatenated. */
  readonly data: string;
  /** Per taken iteration: the Loop iteration numbers (`loops` of them), the rank, the dims. */
  readonly meta: string;
  readonly loops: number;
}

/** Depth of the outermost Loop step that has an If step below it (-1: none, plain threading works). */
export function raggedLoopDepth(index: GraphIndex, steps: readonly ContextStep[]): number {
  const op = (s: ContextStep) => index.nodes[s.node].opType;
  return steps.findIndex((s, d) => op(s) === 'Loop' && steps.slice(d + 1).some((t) => op(t) === 'If'));
}

/**
 * Why a value at `steps` cannot be threaded out, or undefined: an If lacking the other branch (an
 * invalid model), or an If inside a Scan body that scan-as-loop.ts left a Scan (no carried sequences there).
 */
export function unthreadable(index: GraphIndex, steps: readonly ContextStep[]): string | undefined {
  for (const [d, s] of steps.entries()) {
    const node = index.nodes[s.node];
    if (node.opType === 'If') {
      const other = s.attr === 'then_branch' ? 'else_branch' : 'then_branch';
      if (!node.attribute?.some((a) => a.name === other && a.g))
        return `it sits in an If ('${node.name ?? ''}') without an ${other}, which ONNX requires`;
    }
    if (node.opType === 'Scan' && steps.slice(d + 1).some((t) => index.nodes[t.node].opType === 'If'))
      return 'it sits in an If inside a Scan body, whose per-iteration values have no common shape (a Scan with a scan output axis other than 0, or of opset < 11, is not rewritten as the equivalent Loop)';
  }
  return undefined;
}

export function threadRagged(
  editor: GraphEditor,
  index: GraphIndex,
  value: string,
  steps: readonly ContextStep[],
  elemType: number,
): RaggedOutputs {
  const depth = raggedLoopDepth(index, steps);
  const outer = editor.graphAt(steps.slice(0, depth));
  const loopNode = editor.nodeAt(steps[depth].node);
  const seqs = {
    data: startSequence(editor, outer, loopNode, elemType),
    meta: startSequence(editor, outer, loopNode, INT64),
  };
  // Down: the sequence names visible at each level, and each Loop body's iteration number.
  const levels: { data: string; meta: string; carried: number }[] = [];
  const iterations: string[] = [];
  let current = seqs;
  for (let d = depth; d < steps.length; d++) {
    const node = editor.nodeAt(steps[d].node);
    let carried = -1;
    if (node.opType === 'Loop') {
      const body = editor.subgraphAt(steps, d);
      carried = (node.input ?? []).length - 2;
      iterations.push(body.input![0].name!);
      (node.input ??= []).push(current.data, current.meta);
      const inner = { data: editor.fresh('ragged-data'), meta: editor.fresh('ragged-meta') };
      body.input!.push({ name: inner.data, type: sequenceOf(elemType) }, { name: inner.meta, type: sequenceOf(INT64) });
      levels.push({ ...current, carried });
      current = inner;
    } else levels.push({ ...current, carried });
  }
  let updated = insertRecord(editor, editor.graphAt(steps), value, current, iterations);
  // Up: each level returns the updated sequences.
  for (let d = steps.length - 1; d >= depth; d--) {
    const node = editor.nodeAt(steps[d].node);
    const body = editor.subgraphAt(steps, d);
    const lifted = { data: editor.fresh('ragged-data'), meta: editor.fresh('ragged-meta') };
    if (node.opType === 'If') {
      const other = editor.subgraphAt(steps, d, steps[d].attr === 'then_branch' ? 'else_branch' : 'then_branch');
      body.output!.push({ name: updated.data }, { name: updated.meta });
      other.output!.push({ name: insertNothing(editor, other, levels[d - depth].data, elemType) });
      other.output!.push({ name: insertNothing(editor, other, levels[d - depth].meta, INT64) });
      node.output!.push(lifted.data, lifted.meta);
    } else {
      const { carried } = levels[d - depth];
      body.output!.splice(1 + carried, 0, { name: updated.data }, { name: updated.meta });
      node.output!.splice(carried, 0, lifted.data, lifted.meta);
    }
    updated = lifted;
  }
  const data = concatSequence(editor, outer, updated.data);
  const meta = concatSequence(editor, outer, updated.meta);
  const above = steps.slice(0, depth);
  return {
    data: above.length ? editor.threadOut(data, above, elemType) : data,
    meta: above.length ? editor.threadOut(meta, above, INT64) : meta,
    loops: iterations.length,
  };
}

function sequenceOf(elemType: number): TypeProto {
  return { sequenceType: { elemType: { tensorType: { elemType } } } };
}

/** A sequence holding one empty 1-D tensor (ConcatFromSequence needs an element), made before the Loop. */
function startSequence(editor: GraphEditor, graph: GraphProto, loop: NodeProto, dataType: number): string {
  const empty = editor.fresh('ragged-empty');
  const seq = editor.fresh('ragged-start');
  const nodes = graph.node!;
  nodes.splice(nodes.indexOf(loop), 0, constant(empty, dataType, [0], []), {
    opType: 'SequenceConstruct',
    name: seq,
    input: [empty],
    output: [seq],
  });
  return seq;
}

function constant(name: string, dataType: number, dims: number[], int64s: number[]): NodeProto {
  const t = dataType === INT64 ? { int64Data: int64s } : { rawData: new Uint8Array(0) };
  return {
    opType: 'Constant',
    name,
    output: [name],
    attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { name, dims, dataType, ...t } }],
  };
}

/** Appends the value's elements and its record to the sequences visible where it is computed. */
function insertRecord(
  editor: GraphEditor,
  graph: GraphProto,
  value: string,
  seqs: { data: string; meta: string },
  iterations: readonly string[],
): { data: string; meta: string } {
  const nodes = (graph.node ??= []);
  const name = (hint: string) => editor.fresh(`${value}::${hint}`);
  const flatShape = name('flat-shape');
  const oneShape = name('one-shape');
  nodes.push(constant(flatShape, INT64, [1], [-1]), constant(oneShape, INT64, [1], [1]));
  const flat = name('flat');
  const shape = name('shape');
  const rank = name('rank');
  nodes.push(
    { opType: 'Reshape', name: flat, input: [value, flatShape], output: [flat] },
    { opType: 'Shape', name: shape, input: [value], output: [shape] },
    { opType: 'Shape', name: rank, input: [shape], output: [rank] },
  );
  const iters = iterations.map((it) => {
    const out = name('iteration');
    nodes.push({ opType: 'Reshape', name: out, input: [it, oneShape], output: [out] });
    return out;
  });
  const record = name('record');
  nodes.push({
    opType: 'Concat',
    name: record,
    input: [...iters, rank, shape],
    output: [record],
    attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
  });
  const data = name('data');
  const meta = name('meta');
  nodes.push(
    { opType: 'SequenceInsert', name: data, input: [seqs.data, flat], output: [data] },
    { opType: 'SequenceInsert', name: meta, input: [seqs.meta, record], output: [meta] },
  );
  return { data, meta };
}

/**
 * The other branch returns the outer sequence with an empty tensor added, which concatenates to
 * nothing (a branch output must be produced inside the branch, and Identity takes sequences only
 * from opset 14).
 */
function insertNothing(editor: GraphEditor, graph: GraphProto, outerSeq: string, dataType: number): string {
  const empty = editor.fresh(`${outerSeq}::nothing`);
  const name = editor.fresh(`${outerSeq}::unchanged`);
  (graph.node ??= []).push(constant(empty, dataType, [0], []), {
    opType: 'SequenceInsert',
    name,
    input: [outerSeq, empty],
    output: [name],
  });
  return name;
}

function concatSequence(editor: GraphEditor, graph: GraphProto, seq: string): string {
  const out = editor.fresh(`${seq}::concat`);
  (graph.node ??= []).push({
    opType: 'ConcatFromSequence',
    name: out,
    input: [seq],
    output: [out],
    attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
  });
  return out;
}

/** The tensors a ragged capture holds: one per taken iteration, with its Loop iteration numbers. */
export function splitRagged<T>(
  meta: { data: unknown },
  loops: number,
  make: (offset: number, dims: number[]) => T,
): { tensor: T; iterations: number[] }[] {
  const records = Array.from(meta.data as BigInt64Array, Number);
  const out: { tensor: T; iterations: number[] }[] = [];
  let offset = 0;
  for (let i = 0; i < records.length; ) {
    const iterations = records.slice(i, i + loops);
    const rank = records[i + loops];
    const dims = records.slice(i + loops + 1, i + loops + 1 + rank);
    i += loops + 1 + rank;
    out.push({ tensor: make(offset, dims), iterations });
    offset += dims.reduce((a, b) => a * b, 1);
  }
  return out;
}
