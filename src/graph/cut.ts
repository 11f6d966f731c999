/**
 * Cuts a graph at values, so JS can run between the pieces (a callback edit, a hook returning a
 * tensor): segment k computes what cut value k (and the values JS reads with it) needs and nothing
 * else, and returns them and every value it computed that a later segment reads; the last segment
 * computes the rest. Nothing
 * runs twice. Only top-level values can be cut: a value inside an If branch or a Loop body exists
 * once per iteration, inside one node.
 */
import type { GraphProto, ModelProto, TypeProto, ValueInfoProto } from '../onnx/types.js';
import { nodeReads } from './graph-index.js';

/** A value to cut before, and the values JS reads there too (computed by the same segment). */
export interface Cut {
  readonly value: string;
  readonly reads: readonly string[];
}

export interface Segment {
  readonly model: ModelProto;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** Segments in run order (cuts in execution order, then the rest); `typeOf` types the values crossing a cut. */
export function cutGraph(model: ModelProto, cuts: readonly Cut[], typeOf: (value: string) => TypeProto): Segment[] {
  const graph = model.graph ?? {};
  const nodes = graph.node ?? [];
  const reads = nodes.map(nodeReads);
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producer.set(o, i);
  });
  const owner = new Array<number>(nodes.length).fill(cuts.length);
  const assigned = new Set<number>();
  cuts.forEach((cut, s) => {
    const stack = [cut.value, ...cut.reads];
    while (stack.length) {
      const p = producer.get(stack.pop()!);
      if (p === undefined || assigned.has(p)) continue;
      assigned.add(p);
      owner[p] = s;
      stack.push(...reads[p]);
    }
  });
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  // The last segment that reads each value: values read after their own segment cross the cut.
  const lastReader = new Map<string, number>();
  nodes.forEach((_, i) => {
    for (const v of reads[i]) lastReader.set(v, Math.max(lastReader.get(v) ?? -1, owner[i]));
  });
  const segments: Segment[] = [];
  for (let s = 0; s <= cuts.length; s++) {
    const members = nodes.map((_, i) => i).filter((i) => owner[i] === s);
    if (members.length === 0) continue;
    const produced = new Set(members.flatMap((i) => nodes[i].output ?? []));
    const outputs = [...produced].filter(
      (v) =>
        v &&
        ((lastReader.get(v) ?? -1) > s || graphOutputs.has(v) || v === cuts[s]?.value || cuts[s]?.reads.includes(v)),
    );
    segments.push(segmentModel(model, graph, members, produced, outputs, reads, typeOf));
  }
  return segments;
}

function segmentModel(
  model: ModelProto,
  graph: GraphProto,
  members: readonly number[],
  produced: ReadonlySet<string>,
  outputs: readonly string[],
  reads: readonly (readonly string[])[],
  typeOf: (value: string) => TypeProto,
): Segment {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const read = new Set(members.flatMap((i) => reads[i]));
  const inputs = [...read].filter((v) => !produced.has(v) && !initializers.has(v));
  const declared = new Map<string, ValueInfoProto>(
    [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])].map((v) => [v.name ?? '', v]),
  );
  const info = (name: string): ValueInfoProto =>
    declared.get(name)?.type ? declared.get(name)! : { name, type: typeOf(name) };
  return {
    model: {
      ...model,
      graph: {
        ...graph,
        node: members.map((i) => graph.node![i]),
        initializer: (graph.initializer ?? []).filter((t) => read.has(t.name ?? '')),
        input: inputs.map(info),
        output: outputs.map((name) => declared.get(name) ?? { name }),
      },
    },
    inputs,
    outputs,
  };
}
