/**
 * A block's computation by dataflow, for module maps that place only some of a block's nodes in it
 * (exports named from parameters alone, such as optimum's DistilBERT: the Softmax, the residual Adds
 * and the reshapes read no parameter, so they sit outside every block). A node that depends on a
 * node of block i and that a node of block i depends on is computed inside block i, whatever the map
 * says. The presets fall back to this extent only where the module map's own answer is not one value.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo } from '../modules/module-map.js';

export interface Extent {
  /** The block's nodes and every node sandwiched between two of them. */
  readonly nodes: ReadonlySet<number>;
  /** Values computed outside the extent (not constants or weights) that it reads. */
  readonly reads: readonly string[];
  /** Values computed inside it that a node outside reads, or that the graph returns. */
  readonly leaves: readonly string[];
}

function reach(index: GraphIndex, from: Iterable<number>, next: (n: number) => Iterable<number>): Set<number> {
  const seen = new Set<number>();
  const stack = [...from];
  while (stack.length) {
    const n = stack.pop()!;
    for (const m of next(n))
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
  }
  return seen;
}

const isConstant = (index: GraphIndex, value: string) => {
  const at = index.producer.get(value);
  return index.initializers.has(value) || (at !== undefined && index.nodes[at].opType === 'Constant');
};

/** The extent of a block's single call (top-level nodes only; control flow is left to the module map). */
export function blockExtent(index: GraphIndex, block: ModuleInfo): Extent | undefined {
  const own = block.calls.length === 1 ? block.calls[0].nodes : undefined;
  if (!own?.length || own.some((n) => index.context[n].length > 0)) return undefined;
  const consumersOf = (n: number) =>
    (index.nodes[n].output ?? []).flatMap((v) => (v ? (index.consumers.get(v) ?? []) : []));
  const producersOf = (n: number) =>
    index.reads[n].flatMap((v) => {
      const p = index.producer.get(v);
      return p === undefined ? [] : [p];
    });
  const after = reach(index, own, consumersOf);
  const before = reach(index, own, producersOf);
  const nodes = new Set([...own, ...[...after].filter((n) => before.has(n) && index.context[n].length === 0)]);
  const produced = new Set([...nodes].flatMap((n) => index.nodes[n].output ?? []));
  const reads = new Set<string>();
  for (const n of nodes)
    for (const v of index.reads[n]) if (v && !produced.has(v) && !isConstant(index, v)) reads.add(v);
  const leaves = [...produced].filter(
    (v) => v && (index.outputs.includes(v) || (index.consumers.get(v) ?? []).some((c) => !nodes.has(c))),
  );
  return { nodes, reads: [...reads], leaves };
}

/** A declared rank other than 3 rules a value out as a hidden state ([batch, seq, hidden]). */
const notRank3 = (index: GraphIndex, v: string) => {
  const rank = index.types.get(v)?.tensorType?.shape?.dim?.length;
  return rank !== undefined && rank !== 3;
};

/** The stream entering block i by the extents: what block i-1 leaves and block i reads; for block 0, what it alone reads. */
export function streamByExtent(index: GraphIndex, extents: readonly (Extent | undefined)[], i: number): string[] {
  const here = extents[i];
  if (!here) return [];
  if (i > 0) {
    const left = new Set(extents[i - 1]?.leaves ?? []);
    return here.reads.filter((v) => left.has(v));
  }
  const shared = new Set(extents[1]?.reads ?? []);
  return here.reads.filter((v) => !shared.has(v) && !notRank3(index, v));
}

/** The one Softmax computed inside a block's extent, or how many there are. */
export function softmaxByExtent(index: GraphIndex, extent: Extent | undefined): string | number {
  const softmaxes = [...(extent?.nodes ?? [])].filter((n) => index.nodes[n].opType === 'Softmax');
  return softmaxes.length === 1 ? index.nodes[softmaxes[0]].output![0] : softmaxes.length;
}

/** Block 0's stream from the BERT-family `embeddings` module (`distilbert.embeddings`): what it leaves and block 0 reads. */
export function embeddingsByExtent(
  index: GraphIndex,
  embeddings: ModuleInfo | undefined,
  first: Extent | undefined,
): string[] {
  const extent = embeddings && blockExtent(index, embeddings);
  if (!extent || !first) return [];
  const reads = new Set(first.reads);
  return extent.leaves.filter((v) => reads.has(v));
}
