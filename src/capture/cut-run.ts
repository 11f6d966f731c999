/**
 * Runs a capture graph cut before each JS callback edit: segment by segment, calling each callback
 * as soon as the value it edits is computed, and feeding what it returns to the segments after it.
 * Every node runs once (src/graph/cut.ts decides which segment computes what).
 */
import { inferElemType } from '../graph/elem-type.js';
import type { GraphIndex } from '../graph/graph-index.js';
import { cutGraph } from '../graph/cut.js';
import { requestKey, type CaptureGraph } from '../graph/rewrite.js';
import type { ModelProto, TypeProto } from '../onnx/types.js';
import type { InferenceSession, Runtime, Tensor } from '../runtime/runtime.js';
import type { CallbackSlot } from './edits.js';

export interface CutSessions {
  readonly segments: readonly { session: InferenceSession; inputs: readonly string[]; outputs: readonly string[] }[];
  /** The value each callback receives, in callback order. */
  readonly cutAt: readonly string[];
}

/** Callbacks in execution order (the order of the nodes computing their values). */
export function inRunOrder(index: GraphIndex, callbacks: readonly CallbackSlot[]): CallbackSlot[] {
  // On a value nested modules share, the inner module's hook comes first (its edit applies first).
  const at = (c: CallbackSlot) => index.producer.get(c.target.value)!;
  return [...callbacks].sort((a, b) => at(a) - at(b) || b.unedited.editDepth - a.unedited.editDepth);
}

export async function cutSessions(
  index: GraphIndex,
  graph: CaptureGraph,
  callbacks: readonly CallbackSlot[],
  create: (model: ModelProto) => Promise<InferenceSession>,
): Promise<CutSessions> {
  const ordered = inRunOrder(index, callbacks);
  const cutAt = ordered.map((c) => graph.outputOf.get(requestKey(c.unedited))!);
  const exposed = (v: string) => graph.outputOf.get(requestKey({ value: v, reduce: 'none' })) ?? v;
  const cuts = ordered.map((c, k) => ({ value: cutAt[k], reads: (c.fn.reads ?? []).map(exposed) }));
  const typeOf = (v: string): TypeProto =>
    index.types.get(v) ?? { tensorType: { elemType: inferElemType(index, v) ?? 1 } };
  const segments = [];
  for (const s of cutGraph(graph.model, cuts, typeOf))
    segments.push({ session: await create(s.model), inputs: s.inputs, outputs: s.outputs });
  return { segments, cutAt };
}

export async function runCut(
  index: GraphIndex,
  cut: CutSessions,
  callbacks: readonly CallbackSlot[],
  feeds: Record<string, Tensor>,
  outputOf: ReadonlyMap<string, string>,
  runtime: Runtime,
  run: (session: InferenceSession, feeds: Record<string, Tensor>, fetches: string[]) => Promise<Record<string, Tensor>>,
): Promise<Record<string, Tensor>> {
  const ordered = inRunOrder(index, callbacks);
  const values: Record<string, Tensor> = { ...feeds };
  const read = (value: string) => values[outputOf.get(requestKey({ value, reduce: 'none' })) ?? value];
  let next = 0;
  for (const segment of cut.segments) {
    const given = Object.fromEntries(segment.inputs.map((name) => [name, values[name]]));
    Object.assign(values, await run(segment.session, given, [...segment.outputs]));
    for (; next < ordered.length && cut.cutAt[next] in values; next++) {
      const c = ordered[next];
      const output = values[cut.cutAt[next]];
      const call = { key: c.target.key, module: c.target.module, call: c.target.call, read };
      const result = (await c.fn(output, call)) ?? output;
      Object.assign(values, c.feeds(result, runtime));
    }
  }
  return values;
}
