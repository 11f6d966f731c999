/**
 * What a capture decides before running: the selection, the values the capture graph returns
 * (dequantized, cast to float16, read at an edit depth, or only a view's shape), the session, and
 * the fetched output each key is read from. Shared by every capture with equal options.
 */
import { NeurotapError } from '../errors.js';
import { inferElemType, unreturnableType } from '../graph/elem-type.js';
import type { GraphIndex } from '../graph/graph-index.js';
import { quantParams } from '../graph/quantization.js';
import { requestKey, valueContext, type ExposeRequest } from '../graph/rewrite.js';
import type { CaptureOptions } from './capture-options.js';
import type { ModelParts } from './model-parts.js';
import { DataType } from '../onnx/types.js';
import type { Tensor } from '../runtime/runtime.js';
import type { EditPlan } from './edits.js';
import { branchConditions, resolveCalls } from './resolve-calls.js';
import type { CaptureTarget, Selection, Unobservable } from './select.js';
import type { CaptureSession, SessionCache } from './session-cache.js';
import { reshapeViews } from './views.js';

/** What a run of the plan reads (run-plan.ts). */
export interface CapturePlan {
  edits: EditPlan | undefined;
  selection: Selection;
  capture: CaptureSession;
  modelOutputs: string[];
  fetches: string[];
  /** Per target, the fetched output holding it; undefined where it is a feed, returned as given. */
  source: ReadonlyMap<CaptureTarget, string | undefined>;
  ragged: ReadonlyMap<CaptureTarget, { meta: string; loops: number }>;
  /** Targets read as a view of another target's tensor (source holds their fetched shape). */
  views: ReadonlyMap<CaptureTarget, CaptureTarget>;
  stack: boolean;
  notObservable: Unobservable[];
  /**
   * Where no target sits in an If or Loop body, the keys do not depend on the run: each key with
   * the target it reads, worked out once (resolveCalls on the targets themselves).
   */
  keyed?: { entries: [string, CaptureTarget][]; targets: CaptureTarget[] };
}

/** How targets become graph outputs: dequantized, cast to float16, read at an edit depth. */
export interface RequestMode {
  dequantize: boolean;
  float16: boolean;
  edits: EditPlan | undefined;
  /** Targets returned as a view of another target's data (views.ts): only their shape is fetched. */
  views: ReadonlyMap<CaptureTarget, CaptureTarget>;
}

export function requestMode(
  index: GraphIndex,
  options: CaptureOptions,
  edits: EditPlan | undefined,
  selection: Selection,
): RequestMode {
  if (options.dtype !== undefined && options.dtype !== 'float32' && options.dtype !== 'float16')
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected dtype 'float32' or 'float16'; got ${JSON.stringify(options.dtype)}.`,
      {
        hint: "Leave dtype out for the model's own types, or pass 'float16' for half-size float activations.",
      },
    );
  // An edit may change a value and not its reshape: with edits every value is fetched as it is.
  const views = edits ? new Map() : reshapeViews(index, selection.targets);
  return { dequantize: options.dequantize === true, float16: options.dtype === 'float16', edits, views };
}

/**
 * What the capture graph returns for a target; undefined for an unreduced graph input, which is
 * returned from the feeds (unless it is cast to float16).
 */
function requestOf(index: GraphIndex, t: CaptureTarget, mode: RequestMode): ExposeRequest | undefined {
  const { dequantize, edits } = mode;
  const float = inferElemType(index, t.value) === DataType.FLOAT || (dequantize && !!quantParams(index, t.value));
  const float16 = mode.float16 && float;
  if (t.reduce === 'none' && !float16 && !t.derive && index.inputs.includes(t.value)) return undefined;
  if (mode.views.has(t)) return { value: t.value, reduce: 'none', shape: true };
  return {
    value: t.value,
    reduce: t.reduce,
    dequantize,
    editDepth: edits?.depthFor(t),
    derive: t.derive,
    ...(float16 ? { float16 } : {}),
  };
}

/** The values the capture graph must return: the targets, and the If conditions telling which branches ran. */
export function requestsFor(index: GraphIndex, selection: Selection, mode: RequestMode): ExposeRequest[] {
  // A condition fed by the user or stored as an initializer is known without running the graph.
  const conditions = branchConditions(index, selection.targets)
    .filter((value) => !index.inputs.includes(value) && !index.initializers.has(value))
    .map((value) => ({ value, reduce: 'none' as const }));
  const targets = selection.targets.flatMap((t) => requestOf(index, t, mode) ?? []);
  // What each JS callback edit receives (the graph is cut there).
  const callbacks = (mode.edits?.callbacks ?? []).map((c) => c.unedited);
  return [...targets, ...callbacks, ...conditions];
}

/** The plan of a capture with these options, its selection and edits already made. */
export async function buildCapturePlan(
  parts: ModelParts,
  sessions: SessionCache,
  options: CaptureOptions,
  edits: EditPlan | undefined,
  selection: Selection,
): Promise<CapturePlan> {
  const { index } = parts;
  const mode = requestMode(index, options, edits, selection);
  const keepOutputs = options.stop !== true;
  const capture = await sessions.get(requestsFor(index, selection, mode), keepOutputs, edits);
  const modelOutputs = keepOutputs ? returnableOutputs(index) : [];
  const metas = [...capture.ragged.values()].map((m) => m.meta);
  const source = new Map<CaptureTarget, string | undefined>();
  const ragged = new Map<CaptureTarget, { meta: string; loops: number }>();
  for (const t of selection.targets) {
    const request = requestOf(index, t, mode);
    source.set(t, request && capture.outputOf.get(requestKey(request))!);
    const m = request && capture.ragged.get(requestKey(request));
    if (m) ragged.set(t, m);
  }
  return {
    edits,
    selection,
    capture,
    modelOutputs,
    fetches: [...new Set([...modelOutputs, ...capture.outputOf.values(), ...metas])],
    source,
    ragged,
    stack: options.stackCalls === true,
    views: mode.views,
    notObservable: [...selection.notObservable, ...(keepOutputs ? unreturnableOutputs(index) : [])],
    keyed: ragged.size || capture.cut ? undefined : runIndependentKeys(parts, selection.targets),
  };
}

function runIndependentKeys(parts: ModelParts, targets: readonly CaptureTarget[]): CapturePlan['keyed'] {
  const { index, runtime } = parts;
  const outside = (t: CaptureTarget) => !t.siteContext?.length && valueContext(index, t.value).length === 0;
  if (!targets.every(outside)) return undefined;
  // Each target stands in for its own tensor: the keys come out paired with what they read.
  const asTensor = (t: CaptureTarget) => t as unknown as Tensor;
  const keyed = resolveCalls(index, runtime, targets, asTensor, () => undefined, false);
  return {
    entries: [...keyed.tensors].map(([key, t]) => [key, t as unknown as CaptureTarget]),
    targets: keyed.targets,
  };
}

/** Model outputs the JS API can return: fetching an int4 output would abort the Node binding. */
export function returnableOutputs(index: GraphIndex): string[] {
  return index.outputs.filter((o) => !unreturnableType(inferElemType(index, o)));
}

function unreturnableOutputs(index: GraphIndex): Unobservable[] {
  return index.outputs.flatMap((o) => {
    const dtype = unreturnableType(inferElemType(index, o));
    if (!dtype) return [];
    const reason = `a model output of type ${dtype}: ONNX Runtime's JS API cannot return ${dtype} values`;
    return [{ key: `output:${o}`, module: o, reason, hint: 'Capture the values it is computed from instead.' }];
  });
}
