/**
 * Compares the activations of two runs key by key: two exports of one PyTorch model (fp32 vs fp16,
 * float vs int8, optimised vs not), two execution providers, or an export against a reference dump
 * from PyTorch (`neurotap_torch.dump`). Keys are PyTorch module names and calls, never ONNX value
 * names, so graphs that quantizers or optimisers renamed still line up.
 *
 * ```ts
 * const result = await compareModels(fp32, fp16, { x }, { atol: 1e-2, rtol: 1e-2 });
 * result.firstDivergence; // the first key over tolerance in execution order, or null
 * ```
 */
import type { ActivationCache } from '../capture/activation-cache.js';
import type { LayerSpec } from '../capture/select.js';
import { NeurotapError } from '../errors.js';
import type { NeurotapModel } from '../model.js';
import type { ModuleSummary } from '../modules/module-summary.js';
import { sizeOf, type DType, type HostTensor } from '../tensor.js';
import { castFeedsTo } from './cast-feeds.js';
import { constantInputReason, untracedReason } from './reference-modules.js';
import { compareValues, valuesOf, type TensorMetrics, type Tolerance } from './metrics.js';

export interface CompareOptions {
  /** Default 1e-4. */
  atol?: number;
  /** Default 1e-3 (neurotap's own fidelity tolerance against PyTorch). */
  rtol?: number;
}

export interface CompareModelsOptions extends CompareOptions {
  /** What to capture on both sides (default 'modules': every module, containers included). */
  layers?: LayerSpec | LayerSpec[];
  /** Also compare what each module received (`in:` keys). */
  inputs?: boolean;
}

export interface KeyComparison extends Partial<TensorMetrics> {
  readonly key: string;
  readonly shapeA: readonly number[];
  readonly shapeB: readonly number[];
  readonly dtypeA: DType;
  readonly dtypeB: DType;
  /** Every element within tolerance and the shapes equal. */
  readonly ok: boolean;
  /** Why no metrics were computed (shapes differ, a string tensor). */
  readonly problem?: string;
}

export interface Unmatched {
  readonly key: string;
  readonly reason: string;
}

export interface Comparison {
  /** Matched keys in A's order (execution order for a capture). */
  readonly keys: readonly KeyComparison[];
  readonly firstDivergence: string | null;
  readonly unmatched: { readonly a: readonly Unmatched[]; readonly b: readonly Unmatched[] };
  readonly tolerance: Tolerance;
}

/** A capture, or tensors read from a file, keyed as neurotap keys. */
export type CompareSide = ActivationCache | ReadonlyMap<string, HostTensor> | Iterable<[string, HostTensor]>;

/** Why a key of one side has no partner on the other; undefined: "holds no such key". */
export type ExplainMissing = (key: string) => string | undefined;

export interface CompareCachesOptions extends CompareOptions {
  /** Why a key of A is missing from B (compareModels says "not a module in B", "not observable in B: …"). */
  missingInB?: ExplainMissing;
  missingInA?: ExplainMissing;
}

function toleranceOf(options: CompareOptions): Tolerance {
  const tol = { atol: options.atol ?? 1e-4, rtol: options.rtol ?? 1e-3 };
  for (const [name, value] of Object.entries(tol)) {
    if (!Number.isFinite(value) || value < 0)
      throw new NeurotapError('E_BAD_ARGUMENT', `Expected ${name} to be a number >= 0; got ${value}.`, {
        hint: 'E.g. { atol: 1e-4, rtol: 1e-3 }; fp16 exports need about 1e-2.',
      });
  }
  return tol;
}

function entriesOf(side: CompareSide): Map<string, HostTensor> {
  if (side instanceof Map) return side as Map<string, HostTensor>;
  return new Map(side as Iterable<[string, HostTensor]>);
}

/** Metrics of one key; a key whose shapes differ is over tolerance, without metrics. */
export function compareKey(key: string, a: HostTensor, b: HostTensor, tol: Tolerance): KeyComparison {
  const head = { key, shapeA: [...a.dims], shapeB: [...b.dims], dtypeA: a.type, dtypeB: b.type };
  if (Array.isArray(a.data) || Array.isArray(b.data)) return { ...head, ok: false, problem: 'string tensors' };
  const sameShape = a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
  if (!sameShape) {
    const problem = sizeOf(a.dims) === sizeOf(b.dims) ? 'shapes differ (same size)' : 'shapes differ';
    return { ...head, ok: false, problem };
  }
  const metrics = compareValues(valuesOf(a), valuesOf(b), tol);
  return { ...head, ...metrics, ok: metrics.overTolerance === 0 };
}

/** Compares every key present on both sides; keys of one side only are listed with the reason. */
export function compareCaches(a: CompareSide, b: CompareSide, options: CompareCachesOptions = {}): Comparison {
  const tolerance = toleranceOf(options);
  const left = entriesOf(a);
  const right = entriesOf(b);
  const keys: KeyComparison[] = [];
  for (const [key, tensor] of left) {
    const other = right.get(key);
    if (other) keys.push(compareKey(key, tensor, other, tolerance));
  }
  const missing = (from: Map<string, HostTensor>, into: Map<string, HostTensor>, why?: ExplainMissing, side = 'B') =>
    [...from.keys()]
      .filter((k) => !into.has(k))
      .map((key) => ({ key, reason: why?.(key) ?? `${side} holds no key '${key}'` }));
  return {
    keys,
    firstDivergence: keys.find((k) => !k.ok)?.key ?? null,
    unmatched: {
      a: missing(left, right, options.missingInB ?? explainFromCache(b, 'B'), 'B'),
      b: missing(right, left, options.missingInA ?? explainFromCache(a, 'A'), 'A'),
    },
    tolerance,
  };
}

function isCache(side: CompareSide): side is ActivationCache {
  return typeof (side as ActivationCache).whyNotObservable === 'function';
}

function explainFromCache(side: CompareSide, name: string): ExplainMissing | undefined {
  if (!isCache(side)) return undefined;
  return (key) => {
    const why = reportedFor(side, key);
    return why ? `not observable in ${name}: ${why.reason}` : undefined;
  };
}

/**
 * Why a module is not observable as a whole (its output, every call's), which explains every key of
 * it; a reason given for one tuple element or input (`attn#1`) explains only that key.
 */
function wholeModuleReason(cache: ActivationCache, module: string) {
  return cache.notObservable.find((u) => u.module === module && !u.key.includes('#') && !u.key.startsWith('in:'));
}

/**
 * The report covering a key: the key itself, then each enclosing key (`in:m#0#1` is inside the
 * reported `in:m#0` where one side keys a list argument's elements), then the whole module's.
 */
function reportedFor(cache: ActivationCache, key: string) {
  const own = cache.whyNotObservable(key);
  if (own) return own;
  const prefix = key.startsWith('in:') ? 'in:' : '';
  for (let rest = key.slice(prefix.length); /[#:]/.test(rest); ) {
    rest = rest.replace(/[#:][^#:]*$/, '');
    const enclosing = cache.notObservable.find((u) => u.key === prefix + rest);
    if (enclosing) return enclosing;
  }
  return ambiguousInputOf(cache, key) ?? wholeModuleReason(cache, moduleOfKey(key));
}

/**
 * An input key of a call whose inputs are reported as ambiguous (`in:block#4` where neurotap
 * reported `in:block#0` … `#3`: the positions themselves are unknown): that call's reason, not the
 * module's output reason.
 */
function ambiguousInputOf(cache: ActivationCache, key: string): { reason: string } | undefined {
  const call = /^(in:[^#]+)#/.exec(key)?.[1];
  if (!call) return undefined;
  return cache.notObservable.find((u) => u.key.startsWith(`${call}#`) && / values enter this call/.test(u.reason));
}

/** `layer1.0:2#1` → `layer1.0`; `in:fc#0` → `fc`. */
export function moduleOfKey(key: string): string {
  return key.replace(/^in:/, '').replace(/[#:].*$/, '');
}

/** Why a key of one model (`name`: 'A' or 'B') has no partner in the other model. */
export function explainFromModel(
  model: NeurotapModel,
  cache: ActivationCache,
  name: string,
  referenceTypes: ReadonlyMap<string, string> = new Map(),
): ExplainMissing {
  let summaries: ModuleSummary[] | undefined;
  const modules = () => (summaries ??= model.modules());
  return (key) => {
    if (/^(__output__|output[:#])/.test(key)) return 'a model output, not a module key';
    const module = moduleOfKey(key);
    const why = reportedFor(cache, key);
    if (why) return `not observable in ${name}: ${why.reason}`;
    const info = model.module(module);
    if (!info) {
      const untraced = untracedReason(referenceTypes.get(module), modules);
      if (untraced) return `not observable in ${name}: ${untraced}`;
      return `not a module in ${name}: no node of its graph belongs to '${module}'`;
    }
    const constant = constantInputReason(info, key);
    if (constant) return `not observable in ${name}: ${constant}`;
    return `${name} has no call or tuple element '${key}' of '${module}'`;
  };
}

/**
 * A capture's tensors in execution order, as PyTorch's forward hooks fire: by the graph position of
 * the node producing each value, a child before the parent returning the same value, calls in order.
 * (An ActivationCache lists the calls of one module together.)
 */
export function inExecutionOrder(model: NeurotapModel, cache: ActivationCache): Map<string, HostTensor> {
  const position = (value: string) => model.valuePosition(value) ?? -1;
  const depth = (module: string | undefined) => (module === undefined ? 0 : module.split('.').length);
  const targets = cache.targets
    .map((t, order) => ({ t, order }))
    .filter(({ t }) => cache.has(t.key))
    .sort(
      (x, y) =>
        position(x.t.value) - position(y.t.value) ||
        Number(x.t.kind === 'output') - Number(y.t.kind === 'output') ||
        depth(y.t.module) - depth(x.t.module) ||
        x.order - y.order,
    );
  return new Map(targets.map(({ t }) => [t.key, cache.get(t.key) as HostTensor]));
}

/**
 * Runs both models on the same feeds (float feeds cast to each model's declared type), quantized
 * values dequantized, and compares every captured key of A with B's (B is the reference).
 */
export async function compareModels(
  modelA: NeurotapModel,
  modelB: NeurotapModel,
  feeds: Readonly<Record<string, HostTensor>>,
  options: CompareModelsOptions = {},
): Promise<Comparison> {
  toleranceOf(options);
  const capture = { layers: options.layers ?? 'modules', dequantize: true, inputs: options.inputs === true };
  const a = await modelA.capture(castFeedsTo(modelA, feeds), capture);
  const b = await modelB.capture(castFeedsTo(modelB, feeds), capture);
  return compareCaches(inExecutionOrder(modelA, a), inExecutionOrder(modelB, b), {
    ...options,
    missingInB: explainFromModel(modelB, b, 'B'),
    missingInA: explainFromModel(modelA, a, 'A'),
  });
}
