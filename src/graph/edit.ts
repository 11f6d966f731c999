/**
 * Edits values in the graph as a PyTorch forward hook that returns a new output does: the node
 * producing the value is renamed to write the original under a fresh name, and edit nodes compute
 * the edited value under the value's own name. So every reader (nodes in If/Loop bodies, the graph's
 * outputs) follows the edit without being found and rewired, while the readers inside the edited
 * module call are pointed back at the original (the module's own code never sees its hook's result).
 *
 * The edit's numbers and tensors are graph inputs, fed per run: a sweep over positions, factors or
 * patched layers reuses one session. Graphs and nodes are copied before they change (GraphEditor).
 */
import type { NodeProto, TensorProto, ValueInfoProto } from '../onnx/types.js';
import { AttributeType } from '../onnx/types.js';
import { inferElemType } from './elem-type.js';
import type { GraphIndex } from './graph-index.js';
import type { GraphEditor } from './thread.js';

/**
 * `zero`: zeros of the value's shape; `scale`: × factor; `add`: + addend (numpy broadcasting);
 * `clamp`: max(·, min) then min(·, max), either bound optional; `replace`: the replacement where
 * the mask is true (broadcast), the original where it is false (a slot a sweep can leave idle).
 */
export type GraphEditKind = 'zero' | 'scale' | 'add' | 'clamp' | 'replace';
export type EditParam = 'factor' | 'addend' | 'min' | 'max' | 'mask' | 'replacement';

export interface GraphEdit {
  readonly value: string;
  readonly kind: GraphEditKind;
  /** Module nesting depth of the edited call: on a value nested modules share, the inner edit applies first. */
  readonly depth: number;
  /** The graph input feeding each parameter of the edit. */
  readonly params: Readonly<Partial<Record<EditParam, string>>>;
  /** Nodes of the edited call that read the value themselves: they keep the unedited one. */
  readonly insideReaders: readonly number[];
}

/** The name holding `value` as a module at `depth` sees it (edits of shallower modules not yet applied). */
export type EditedName = (value: string, depth?: number) => string;

const FLOAT = 1;
const BOOL = 9;
const ELEM_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
};

export function applyGraphEdits(editor: GraphEditor, index: GraphIndex, edits: readonly GraphEdit[]): EditedName {
  const chains = new Map<string, GraphEdit[]>();
  for (const e of edits) (chains.get(e.value) ?? chains.set(e.value, []).get(e.value)!).push(e);
  const stages = new Map<string, { depth: number; before: string }[]>();
  const inputs: ValueInfoProto[] = [];
  for (const [value, chain] of chains) {
    chain.sort((a, b) => b.depth - a.depth);
    const before = chain.map(() => editor.fresh(`${value}::unedited`));
    const dataType = inferElemType(index, value) ?? FLOAT;
    const producerIndex = index.producer.get(value)!;
    const producer = editor.nodeAt(producerIndex);
    producer.output = producer.output!.map((o) => (o === value ? before[0] : o));
    const nodes = chain.flatMap((e, i) => editNodes(e, before[i], before[i + 1] ?? value, dataType, editor));
    const graph = editor.graphAt(index.context[producerIndex]);
    graph.node!.splice(graph.node!.indexOf(producer) + 1, 0, ...nodes);
    // Outer calls first, so a reader inside an inner edited call ends on the earlier stage.
    for (let i = chain.length - 1; i >= 0; i--)
      for (const r of chain[i].insideReaders) {
        const reader = editor.nodeAt(r);
        reader.input = (reader.input ?? []).map((v) => (v === value ? before[i] : v));
      }
    for (const e of chain) inputs.push(...paramInputs(e, dataType));
    stages.set(
      value,
      chain.map((e, i) => ({ depth: e.depth, before: before[i] })),
    );
  }
  editor.root.input = [...(editor.root.input ?? []), ...inputs];
  return (value, depth) => {
    const chain = stages.get(value);
    if (!chain || depth === undefined) return value;
    return chain.find((s) => s.depth < depth)?.before ?? value;
  };
}

/** The graph inputs an edit reads: numbers and tensors of the value's element type, a boolean mask. */
function paramInputs(e: GraphEdit, dataType: number): ValueInfoProto[] {
  return Object.entries(e.params).map(([param, name]) => ({
    name,
    type: {
      tensorType:
        param === 'mask' ? { elemType: BOOL, shape: { dim: [] } } : { elemType: dataType, ...scalarShape(param) },
    },
  }));
}

const scalarShape = (param: string) =>
  param === 'factor' || param === 'min' || param === 'max' ? { shape: { dim: [] } } : {};

function editNodes(e: GraphEdit, from: string, to: string, dataType: number, editor: GraphEditor): NodeProto[] {
  const p = e.params;
  const node = (opType: string, input: string[], output: string, attribute?: NodeProto['attribute']): NodeProto => ({
    opType,
    name: editor.fresh(`edit::${opType}`),
    input,
    output: [output],
    ...(attribute ? { attribute } : {}),
  });
  switch (e.kind) {
    case 'zero': {
      const shape = editor.fresh(`${from}::shape`);
      const zero: TensorProto = { dims: [1], dataType, rawData: new Uint8Array(ELEM_BYTES[dataType] ?? 4) };
      return [
        node('Shape', [from], shape),
        node('ConstantOfShape', [shape], to, [{ name: 'value', type: AttributeType.TENSOR, t: zero }]),
      ];
    }
    case 'scale':
      return [node('Mul', [from, p.factor!], to)];
    case 'add':
      return [node('Add', [from, p.addend!], to)];
    case 'replace':
      return [node('Where', [p.mask!, p.replacement!, from], to)];
    case 'clamp': {
      if (p.min && p.max) {
        const low = editor.fresh(`${from}::clamped-below`);
        return [node('Max', [from, p.min], low), node('Min', [low, p.max], to)];
      }
      return [p.min ? node('Max', [from, p.min], to) : node('Min', [from, p.max!], to)];
    }
  }
}
