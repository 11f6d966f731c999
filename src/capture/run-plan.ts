/**
 * One run of a capture plan: feed, run (or run the cut segments around JS callback edits), and
 * read each target's tensor into an ActivationCache under its key, numbered per call.
 */
import { requestKey } from '../graph/rewrite.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModelParts } from './model-parts.js';
import type { InferenceSession, Tensor } from '../runtime/runtime.js';
import { runSession } from '../runtime/session-options.js';
import { ActivationCache } from './activation-cache.js';
import type { CapturePlan } from './capture-plan.js';
import { runCut } from './cut-run.js';
import { prepareFeeds, type Feeds } from './feeds.js';
import { resolveCalls } from './resolve-calls.js';
import type { CondValue } from './taken-iterations.js';
import type { CaptureTarget } from './select.js';
import { viewTensor } from './views.js';

export async function runCapturePlan(parts: ModelParts, plan: CapturePlan, feeds: Feeds): Promise<ActivationCache> {
  const { index, runtime } = parts;
  const { edits, capture, source } = plan;
  const prepared = prepareFeeds(index, runtime, feeds);
  const runFeeds = edits ? { ...prepared, ...edits.feeds(runtime) } : prepared;
  const run = (s: InferenceSession, f: Record<string, Tensor>, o: string[]) => runSession(s, f, o);
  const fetched = capture.cut
    ? await runCut(index, capture.cut, edits!.callbacks, runFeeds, capture.outputOf, runtime, run)
    : await run(capture.session, runFeeds, plan.fetches);
  const fetchedOrFed = (t: CaptureTarget) => {
    const from = source.get(t);
    return from === undefined ? prepared[t.value] : fetched[from];
  };
  const read = (t: CaptureTarget) => {
    const base = plan.views.get(t);
    return base ? viewTensor(runtime, fetchedOrFed(base), fetchedOrFed(t)) : fetchedOrFed(t);
  };
  const cond = (value: string): CondValue => {
    if (value in prepared) return prepared[value];
    const key = requestKey({ value, reduce: 'none' });
    const m = capture.ragged.get(key);
    const t = constantCondition(index, value) ?? fetched[capture.outputOf.get(key)!];
    // A condition inside a branch in a loop comes back for the iterations that reached it only.
    return m ? { data: t.data, records: { meta: fetched[m.meta], loops: m.loops } } : t;
  };
  const records = (t: CaptureTarget) => {
    const m = plan.ragged.get(t);
    return m && { meta: fetched[m.meta], loops: m.loops };
  };
  const { targets } = plan.selection;
  const resolved = plan.keyed
    ? {
        tensors: new Map(plan.keyed.entries.map(([key, t]) => [key, read(t)])),
        targets: [...plan.keyed.targets],
        notCalled: [],
      }
    : resolveCalls(index, runtime, targets, read, cond, plan.stack, records);
  const outputs: Record<string, Tensor> = {};
  for (const o of plan.modelOutputs) outputs[o] = fetched[o];
  // A key one If branch returned is not "not called" because the other branch's site of it did not run.
  const notCalled = resolved.notCalled.filter((u) => !resolved.tensors.has(u.key));
  const notObservable = [...plan.notObservable, ...notCalled];
  return new ActivationCache(resolved.tensors, resolved.targets, notObservable, outputs, parts.source.saveTensors);
}

/** An If condition stored in the model as an initializer (a bool scalar: raw byte or int32 field). */
function constantCondition(index: GraphIndex, value: string): { data: readonly boolean[] } | undefined {
  if (!index.initializers.has(value)) return undefined;
  const t = index.graph.initializer?.find((i) => i.name === value);
  if (!t) return undefined;
  return { data: [(t.rawData?.length ? t.rawData[0] : Number(t.int32Data?.[0] ?? 0)) !== 0] };
}
