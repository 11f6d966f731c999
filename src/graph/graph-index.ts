/**
 * Read-only lookups over a model's graph and every subgraph nested in it (If branches, Loop and
 * Scan bodies): who produces and consumes each value, which values are initializers, the declared
 * types, and for each node the control-flow nodes it sits inside.
 *
 * Nodes are numbered in one flat list: each subgraph's nodes come right before the node owning
 * the subgraph, so "runs before" follows the numbering.
 */
import type { GraphProto, NodeProto, TypeProto } from '../onnx/types.js';

/** One level of nesting: the control-flow node (flat index) and the attribute holding the subgraph. */
export interface ContextStep {
  readonly node: number;
  readonly attr: string;
}

export interface GraphIndex {
  readonly graph: GraphProto;
  readonly nodes: readonly NodeProto[];
  /** For each node, the control-flow nodes enclosing it, outermost first ([] at top level). */
  readonly context: readonly (readonly ContextStep[])[];
  /** Node index producing each value. */
  readonly producer: ReadonlyMap<string, number>;
  /** What each node reads (nodeReads, computed once: a control-flow node's walks its subgraphs). */
  readonly reads: readonly (readonly string[])[];
  /** Node indices reading each value, including control-flow nodes whose subgraphs read it. */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  readonly initializers: ReadonlySet<string>;
  /** Graph inputs that are not initializers: what a user feeds. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Values a subgraph returns (its graph outputs), which nodes inside do not read. */
  readonly subgraphOutputs: ReadonlySet<string>;
  /** Position of each graph or subgraph output in its graph's output list. */
  readonly outputPosition: ReadonlyMap<string, number>;
  readonly types: ReadonlyMap<string, TypeProto>;
  /** The subgraph each context step names. */
  subgraph(step: ContextStep): GraphProto;
}

export function indexGraph(graph: GraphProto): GraphIndex {
  const nodes: NodeProto[] = [];
  const context: ContextStep[][] = [];
  const initializers = new Set<string>();
  const types = new Map<string, TypeProto>();
  const subgraphOutputs = new Set<string>();
  const subgraphs = new Map<string, GraphProto>();
  // A value a subgraph returns is read by the node owning the subgraph.
  const returnedTo: [string, number][] = [];
  const visit = (g: GraphProto, ctx: ContextStep[]) => {
    for (const t of g.initializer ?? []) initializers.add(t.name ?? '');
    for (const s of g.sparseInitializer ?? []) initializers.add(s.values?.name ?? '');
    for (const vi of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])])
      if (vi.name && vi.type) types.set(vi.name, vi.type);
    for (const node of g.node ?? []) {
      // Nested nodes share these step objects; the owner's index is filled in once it is known.
      const steps: { node: number; attr: string; g: GraphProto }[] = [];
      for (const attr of node.attribute ?? []) {
        if (!attr.g) continue;
        const step = { node: -1, attr: attr.name ?? '', g: attr.g };
        steps.push(step);
        for (const out of attr.g.output ?? []) if (out.name) subgraphOutputs.add(out.name);
        visit(attr.g, [...ctx, step]);
      }
      for (const step of steps) {
        step.node = nodes.length;
        subgraphs.set(`${step.node}/${step.attr}`, step.g);
        for (const out of step.g.output ?? []) if (out.name) returnedTo.push([out.name, step.node]);
      }
      nodes.push(node);
      context.push(ctx);
    }
  };
  visit(graph, []);
  const index = finishIndex(graph, nodes, context, initializers, types, subgraphOutputs, subgraphs);
  for (const [value, owner] of returnedTo) {
    const list = index.consumers.get(value) as number[] | undefined;
    if (list) list.push(owner);
    else (index.consumers as Map<string, number[]>).set(value, [owner]);
  }
  return index;
}

function finishIndex(
  graph: GraphProto,
  nodes: NodeProto[],
  context: ContextStep[][],
  initializers: Set<string>,
  types: Map<string, TypeProto>,
  subgraphOutputs: Set<string>,
  subgraphs: Map<string, GraphProto>,
): GraphIndex {
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const reads = nodes.map(nodeReads);
  nodes.forEach((node, i) => {
    for (const out of node.output ?? []) if (out) producer.set(out, i);
    for (const name of reads[i]) {
      const list = consumers.get(name);
      if (list) {
        if (list[list.length - 1] !== i) list.push(i);
      } else consumers.set(name, [i]);
    }
  });
  const outputPosition = new Map<string, number>();
  for (const g of [graph, ...subgraphs.values()])
    (g.output ?? []).forEach((o, i) => o.name && outputPosition.set(o.name, i));
  return {
    graph,
    nodes,
    context,
    reads,
    producer,
    consumers,
    initializers,
    subgraphOutputs,
    types,
    outputPosition,
    inputs: (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n)),
    outputs: (graph.output ?? []).map((v) => v.name ?? ''),
    subgraph: (step) => subgraphs.get(`${step.node}/${step.attr}`)!,
  };
}

/**
 * A parameter's name as nodes read it: an initializer, or the `Identity` of one by which torch 1.13's
 * exporter deduplicates equal initializers (the clones of `nn.TransformerDecoder`, zero biases):
 * the Identity's output keeps the parameter's own name.
 */
export function isParameter(index: GraphIndex, v: string): boolean {
  if (index.initializers.has(v)) return true;
  const p = index.producer.get(v);
  return p !== undefined && index.nodes[p].opType === 'Identity' && index.initializers.has(index.reads[p][0] ?? '');
}

/** Every value a node reads: its inputs and the outer-scope values its subgraphs reference. */
export function nodeReads(node: NodeProto): string[] {
  const reads = (node.input ?? []).filter((n) => n !== '');
  for (const attr of node.attribute ?? []) {
    for (const sub of [attr.g, ...(attr.graphs ?? [])]) if (sub) reads.push(...outerReads(sub));
  }
  return reads;
}

/** Names a subgraph reads from enclosing scopes (defined neither inside it nor as its inputs). */
export function outerReads(graph: GraphProto): string[] {
  const defined = new Set<string>();
  for (const v of graph.input ?? []) defined.add(v.name ?? '');
  for (const t of graph.initializer ?? []) defined.add(t.name ?? '');
  for (const node of graph.node ?? []) for (const o of node.output ?? []) defined.add(o);
  const reads = new Set<string>();
  for (const node of graph.node ?? []) for (const name of nodeReads(node)) if (!defined.has(name)) reads.add(name);
  for (const out of graph.output ?? []) if (out.name && !defined.has(out.name)) reads.add(out.name);
  return [...reads];
}

/**
 * Shape of a value as declared in the graph: numbers for fixed sizes, names for symbolic ones;
 * [] for a scalar (a shape with no dimensions), undefined when no shape is declared.
 */
export function declaredShape(type: TypeProto | undefined): (number | string)[] | undefined {
  const shape = type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam || '?'));
}

export function declaredElemType(type: TypeProto | undefined): number | undefined {
  return type?.tensorType?.elemType;
}
