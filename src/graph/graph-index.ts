/**
 * Read-only lookups over a GraphProto: who produces and consumes each value, which values are
 * initializers, graph inputs and outputs, and the declared type of each value.
 */
import type { GraphProto, NodeProto, TypeProto } from '../onnx/types.js';

export interface GraphIndex {
  readonly graph: GraphProto;
  readonly nodes: readonly NodeProto[];
  /** Node index producing each value. */
  readonly producer: ReadonlyMap<string, number>;
  /** Node indices reading each value, including nodes whose subgraphs read it. */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  readonly initializers: ReadonlySet<string>;
  /** Graph inputs that are not initializers: what a user feeds. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly types: ReadonlyMap<string, TypeProto>;
}

export function indexGraph(graph: GraphProto): GraphIndex {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  nodes.forEach((node, i) => {
    for (const out of node.output ?? []) if (out) producer.set(out, i);
    for (const name of nodeReads(node)) {
      const list = consumers.get(name);
      if (list) { if (list[list.length - 1] !== i) list.push(i); } else consumers.set(name, [i]);
    }
  });
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  for (const sparse of graph.sparseInitializer ?? []) initializers.add(sparse.values?.name ?? '');
  const types = new Map<string, TypeProto>();
  for (const vi of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    if (vi.name && vi.type) types.set(vi.name, vi.type);
  }
  return {
    graph,
    nodes,
    producer,
    consumers,
    initializers,
    inputs: (graph.input ?? []).map((v) => v.name ?? '').filter((n) => !initializers.has(n)),
    outputs: (graph.output ?? []).map((v) => v.name ?? ''),
    types,
  };
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

/** Shape of a value as declared in the graph: numbers for fixed sizes, names for symbolic ones. */
export function declaredShape(type: TypeProto | undefined): (number | string)[] | undefined {
  const dims = type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam || '?'));
}

export function declaredElemType(type: TypeProto | undefined): number | undefined {
  return type?.tensorType?.elemType;
}
