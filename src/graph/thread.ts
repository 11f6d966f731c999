/**
 * Threads values out of subgraphs, so ONNX Runtime (which returns only top-level outputs) can return
 * a value computed inside an If branch, a Loop body or a Scan body, at any depth:
 * - If: the value becomes an extra output of its branch; the other branch returns an empty tensor
 *   of the same element type (that branch did not run, so nothing was computed there);
 * - Loop / Scan: the value becomes an extra per-iteration output, stacked by the runtime along a new
 *   leading axis (iteration first).
 * Graphs and nodes on the way are copied shallowly before they are changed: the original model and
 * its weights are never modified.
 */
import { NeurotapError } from '../errors.js';
import type { GraphProto, NodeProto } from '../onnx/types.js';
import { AttributeType, DataType } from '../onnx/types.js';
import { inferElemType } from './elem-type.js';
import type { ContextStep, GraphIndex } from './graph-index.js';

const { FLOAT } = DataType;

export class GraphEditor {
  readonly root: GraphProto;
  readonly #graphs = new Map<GraphProto, GraphProto>();
  readonly #nodes = new Map<NodeProto, NodeProto>();
  #counter = 0;

  constructor(
    private readonly index: GraphIndex,
    root: GraphProto,
  ) {
    this.root = { ...root, node: [...(root.node ?? [])], output: [...(root.output ?? [])] };
    this.#graphs.set(index.graph, this.root);
  }

  /** Returns the top-level name under which `value` (living at `steps`) can be made a graph output. */
  threadOut(value: string, steps: readonly ContextStep[], elemType?: number): string {
    // Names made on the way up are new to the index: type every level's stand-in from the original.
    const dataType = elemType ?? inferElemType(this.index, value) ?? FLOAT;
    let current = value;
    for (let depth = steps.length - 1; depth >= 0; depth--)
      current = this.#liftOneLevel(current, steps.slice(0, depth + 1), dataType);
    return current;
  }

  /** A value name used nowhere in the model (checked, not assumed from the prefix). */
  fresh(hint: string): string {
    let name: string;
    do name = `neurotap::${hint}::${this.#counter++}`;
    while (
      this.index.producer.has(name) ||
      this.index.consumers.has(name) ||
      this.index.initializers.has(name) ||
      this.index.inputs.includes(name)
    );
    return name;
  }

  #liftOneLevel(value: string, steps: readonly ContextStep[], dataType: number): string {
    const step = steps[steps.length - 1];
    const owner = this.#editableNode(steps.slice(0, -1), step.node);
    const inner = this.#editableSubgraph(owner, step.attr);
    // A branch already returning the value: its If output is that value (a duplicate output would
    // alias one tensor twice, which ONNX Runtime does not survive).
    const existing = (inner.output ?? []).findIndex((o) => o.name === value);
    if (owner.opType === 'If' && existing >= 0 && owner.output?.[existing]) return owner.output[existing];
    const returned = this.#producedInside(inner, value);
    const lifted = this.fresh(value);
    switch (owner.opType) {
      case 'If':
        this.#addStandIn(owner, step.attr === 'then_branch' ? 'else_branch' : 'then_branch', value, dataType);
        break;
      case 'Loop':
        break;
      case 'Scan':
        appendScanAxisDefaults(owner);
        break;
      default:
        throw new NeurotapError('E_NOT_OBSERVABLE', `Values inside a ${owner.opType} subgraph cannot be returned.`, {
          hint: 'Only If, Loop and Scan subgraphs can be threaded out.',
        });
    }
    (inner.output ??= []).push({ name: returned });
    (owner.output ??= []).push(lifted);
    return lifted;
  }

  /**
   * A subgraph output must be produced inside it and listed once: outer values, subgraph inputs and
   * values already returned get an Identity.
   */
  #producedInside(graph: GraphProto, value: string): string {
    const returned = (graph.output ?? []).some((o) => o.name === value);
    if (!returned && (graph.node ?? []).some((n) => n.output?.includes(value))) return value;
    const name = this.fresh(value);
    (graph.node ??= []).push({ opType: 'Identity', name, input: [value], output: [name] });
    return name;
  }

  #addStandIn(owner: NodeProto, attr: string, value: string, dataType: number): void {
    const branch = this.#editableSubgraph(owner, attr);
    const name = this.fresh(`${value}::not-taken`);
    (branch.node ??= []).push({
      opType: 'Constant',
      name,
      output: [name],
      attribute: [
        { name: 'value', type: AttributeType.TENSOR, t: { name, dims: [0], dataType, rawData: new Uint8Array(0) } },
      ],
    });
    (branch.output ??= []).push({ name });
  }

  /** The node at flat index `nodeIndex` of the index, copied (once) so it can be changed. */
  nodeAt(nodeIndex: number): NodeProto {
    return this.#editableNode(this.index.context[nodeIndex], nodeIndex);
  }

  /** The graph at `steps`, copied so it can be changed. */
  graphAt(steps: readonly ContextStep[]): GraphProto {
    return this.#editableGraph(steps);
  }

  /** The subgraph of `steps[depth]` (or of another attribute of its node), copied so it can be changed. */
  subgraphAt(steps: readonly ContextStep[], depth: number, attr = steps[depth].attr): GraphProto {
    return this.#editableSubgraph(this.nodeAt(steps[depth].node), attr);
  }

  #editableGraph(steps: readonly ContextStep[]): GraphProto {
    if (steps.length === 0) return this.root;
    const owner = this.#editableNode(steps.slice(0, -1), steps[steps.length - 1].node);
    return this.#editableSubgraph(owner, steps[steps.length - 1].attr);
  }

  #editableNode(parentSteps: readonly ContextStep[], nodeIndex: number): NodeProto {
    const original = this.index.nodes[nodeIndex];
    const existing = this.#nodes.get(original);
    if (existing) return existing;
    const parent = this.#editableGraph(parentSteps);
    const copy: NodeProto = {
      ...original,
      input: [...(original.input ?? [])],
      output: [...(original.output ?? [])],
      attribute: (original.attribute ?? []).map((a) => ({ ...a })),
    };
    const at = parent.node!.indexOf(original);
    parent.node![at] = copy;
    this.#nodes.set(original, copy);
    return copy;
  }

  #editableSubgraph(owner: NodeProto, attrName: string): GraphProto {
    const attr = owner.attribute!.find((a) => a.name === attrName)!;
    const original = attr.g!;
    const existing = this.#graphs.get(original);
    if (existing) return existing;
    const copy: GraphProto = {
      ...original,
      node: [...(original.node ?? [])],
      input: [...(original.input ?? [])],
      output: [...(original.output ?? [])],
    };
    attr.g = copy;
    this.#graphs.set(original, copy);
    this.#graphs.set(copy, copy);
    return copy;
  }
}

/** A Scan with explicit per-output axes/directions needs an entry for the new output too. */
function appendScanAxisDefaults(scan: NodeProto): void {
  for (const name of ['scan_output_axes', 'scan_output_directions']) {
    const a = scan.attribute?.find((x) => x.name === name);
    if (a?.ints) a.ints = [...a.ints, 0];
  }
}
