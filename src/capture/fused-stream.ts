/**
 * The residual stream between two blocks where ONNX Runtime's fusions blur it (transformer-presets.ts).
 * A block then seems to read several values from before it:
 * - views of the stream: ORT's Gemm rewrite inserts a Reshape per projection outside the block;
 * - a fused norm's normalised output beside its sum (EmbedLayerNormalization's output 0 and its
 *   embedding sum, output 2): the norm is the block's first one, the sum is the stream;
 * - the two addends of a SkipLayerNormalization inside the block (the last block's MLP output and
 *   its mid-block residual): their sum, the op's output 3, is the stream, re-opened if unnamed.
 */
import type { Derivation } from '../graph/derive.js';
import type { GraphIndex } from '../graph/graph-index.js';

const VIEWS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);
/** Fused norms and the output holding the sum they normalise. */
const SUM_OUTPUT: Record<string, number> = {
  EmbedLayerNormalization: 2,
  SkipLayerNormalization: 3,
  SkipSimplifiedLayerNormalization: 3,
};

export interface Stream {
  readonly value: string;
  readonly derive?: Derivation;
}

const producerOf = (index: GraphIndex, value: string) => {
  const at = index.producer.get(value);
  return at === undefined ? undefined : index.nodes[at];
};

/** Drops candidates that are a view of another candidate, then normalised outputs beside their sums. */
export function narrowCandidates(index: GraphIndex, candidates: readonly string[]): string[] {
  const set = new Set(candidates);
  const viewOfCandidate = (v: string): boolean => {
    for (let node = producerOf(index, v); node && VIEWS.has(node.opType ?? ''); ) {
      const source = node.input?.[0] ?? '';
      if (set.has(source)) return true;
      node = producerOf(index, source);
    }
    return false;
  };
  const streams = candidates.filter((v) => !viewOfCandidate(v));
  const normalisedBesideSum = (v: string): boolean => {
    const node = producerOf(index, v);
    const sumAt = SUM_OUTPUT[node?.opType ?? ''];
    return sumAt !== undefined && node!.output?.[0] === v && streams.includes(node!.output?.[sumAt] ?? '');
  };
  return streams.filter((v) => !normalisedBesideSum(v));
}

/** A fused norm's sum output (the un-normalised value it reads): the stream itself, whatever reads it next. */
export function isFusedSum(index: GraphIndex, value: string): boolean {
  const node = producerOf(index, value);
  const at = SUM_OUTPUT[node?.opType ?? ''];
  return at !== undefined && node!.output?.[at] === value;
}

/** Two candidates that are the input and skip of one SkipLayerNormalization among `nodes`: its sum output. */
export function skipSum(
  index: GraphIndex,
  candidates: readonly string[],
  nodes: readonly number[],
): Stream | undefined {
  if (candidates.length !== 2) return undefined;
  for (const n of nodes) {
    const node = index.nodes[n];
    const sumAt = SUM_OUTPUT[node.opType ?? ''];
    if (sumAt === undefined || node.opType === 'EmbedLayerNormalization') continue;
    const addends = (node.input ?? []).slice(0, 2);
    if (!candidates.every((c) => addends.includes(c))) continue;
    const named = node.output?.[sumAt];
    if (named) return { value: named };
    const anchor = node.output![0];
    return { value: anchor, derive: { kind: 'optional-output', anchor, output: sumAt } };
  }
  return undefined;
}
