/**
 * A loaded model: its PyTorch module tree, plain inference, capture and forward hooks.
 * Isomorphic: it takes bytes and a Runtime, never a file path or a specific onnxruntime package.
 *
 * ```ts
 * const model = await NeurotapModel.fromBytes(bytes, ort);
 * const acts = await model.capture({ x }, { layers: 'leaves' });
 * ```
 */
import { valueNames, type ValueName } from './capture/value-names.js';
import { isRenameMap, renamer } from './capture/rename.js';
import { NeurotapError } from './errors.js';
import { buildCaptureGraph, requestKey, valueContext, type CaptureGraph, type ExposeRequest } from './graph/rewrite.js';
import { checkStructure } from './graph/check-structure.js';
import { declaredElemType, declaredShape, indexGraph, type GraphIndex } from './graph/graph-index.js';
import { ActivationCache } from './capture/activation-cache.js';
import { prepareFeeds, type Feeds } from './capture/feeds.js';
import { branchConditions, resolveCalls } from './capture/resolve-calls.js';
import {
  checkHookTarget,
  HookRegistry,
  type ForwardHook,
  type ForwardPreHook,
  type HookHandle,
} from './capture/hooks.js';
import {
  selectTargets,
  type CaptureTarget,
  type SelectOptions,
  type Selection,
  type Unobservable,
} from './capture/select.js';
import { planEdits, type EditOptions, type EditPlan } from './capture/edits.js';
import { planKey } from './capture/plan-key.js';
import { reshapeViews, viewTensor } from './capture/views.js';
import { cutSessions, runCut, type CutSessions } from './capture/cut-run.js';
import { inferElemType, unreturnableType } from './graph/elem-type.js';
import { dropFusedTargets, loadCaptureBase, type CaptureBase } from './capture/runtime-optimized.js';
import { inlineLocalFunctions, type InlinedFunctions } from './graph/inline-functions.js';
import { firstDataNodes } from './modules/call-order.js';
import { assembleRecurrentStates } from './modules/recurrent-states.js';
import { inputRole, type InputRole } from './graph/input-roles.js';
import { upcastFloat16 } from './capture/upcast.js';
import { uniqueBranchValues } from './graph/branch-names.js';
import { buildModuleMap, type ModuleInfo, type ModuleMap } from './modules/module-map.js';
import { applyFunctionEvidence } from './modules/function-modules.js';
import { gapsNamedByParameters } from './modules/untraced.js';
import { completenessWarning, evidenceSummary, type ModuleEvidence } from './modules/module-evidence.js';
import { decodeModel, encodeModel } from './onnx/codec.js';
import type { ModelProto } from './onnx/types.js';
import type { InferenceSession, ModelSource, Runtime, Tensor } from './runtime/runtime.js';
import { ONNX_DTYPE, type DType } from './tensor.js';
import { LogitLens, type LensOptions, type LensResult } from './lens/lens.js';
import { DataType } from './onnx/types.js';
import { quantParams } from './graph/quantization.js';

interface CaptureSession {
  session: InferenceSession;
  outputOf: ReadonlyMap<string, string>;
  ragged: CaptureGraph['ragged'];
  /** With callback edits: the graph cut before each callback, one session per segment. */
  cut?: CutSessions;
}

/** What #captureOnce reads from a plan; see #capturePlan. */
interface CapturePlan {
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
interface RequestMode {
  dequantize: boolean;
  float16: boolean;
  edits: EditPlan | undefined;
  /** Targets returned as a view of another target's data (views.ts): only their shape is fetched. */
  views: ReadonlyMap<CaptureTarget, CaptureTarget>;
}

function requestMode(
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

/** Distinct option sets whose plans a model keeps (a sweep over layers plans each once, within this). */
const MAX_PLANS = 64;

/** More intra-op threads than this is a typo (each thread takes a stack; 100000 of them hang). */
export const MAX_THREADS = 1024;

export interface LoadOptions {
  /** Intra-op threads for ONNX Runtime, 1 to MAX_THREADS (default: its own choice). */
  threads?: number;
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu'] with a CUDA build of onnxruntime-node. */
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface CaptureOptions extends SelectOptions, EditOptions {
  /**
   * Early stop: run only what the requested layers need (like baukit's `stop=True`); the model's own
   * outputs are then not computed and `acts.outputs` is empty.
   */
  stop?: boolean;
  /** Keep the calls of a module inside a Loop/Scan body as one tensor, calls along a new leading axis. */
  stackCalls?: boolean;
  /** Return float16 and bfloat16 values (an fp16 model's) as float32; by default they stay as the graph computes them. */
  float32?: boolean;
  /**
   * 'float16': float32 activations come back as float16 (a Cast in the capture graph): half the
   * bytes, rounded to float16's 11-bit precision (lossy; large values overflow to ±Inf). Keys,
   * other dtypes and the model's own outputs are unchanged.
   */
  dtype?: 'float32' | 'float16';
}

/** One row of `modules()`: what `named_modules()` shows, plus calls and observability. */
export interface ModuleSummary {
  name: string;
  type: string;
  calls: number;
  children: string[];
  leaf: boolean;
  ops: string[];
  /** Declared output shape of each call's outputs: [] for a scalar, null where the graph declares none. */
  outputShapes: ((number | string)[] | null)[][];
  notObservable?: { reason: string; hint: string };
}

/** A graph input, output or value as the graph declares it (nothing is run). */
export interface ValueInfo {
  readonly name: string;
  /** 'unknown' where the graph declares no element type, or one JavaScript cannot hold. */
  readonly dtype: DType | 'unknown';
  /** Numbers for fixed sizes, names (or expressions such as `s16 + s17`) for symbolic ones; null when undeclared. */
  readonly shape: (number | string)[] | null;
}

export class NeurotapModel {
  // The parsed graph and its module map are internals: the API is inputs, outputs, valueInfo, modules().
  private readonly index: GraphIndex;
  private readonly moduleMap: ModuleMap;
  #callOrder: ReadonlyMap<string, number> | undefined;
  readonly #sessions = new Map<string, Promise<CaptureSession>>();
  readonly #plans = new Map<string, Promise<CapturePlan>>();
  readonly #hooks = new HookRegistry();
  #base: Promise<CaptureBase> | undefined;
  /** The graph values ONNX Runtime's optimisation removed, once its optimised graph is known (QDQ models on the CPU EP). */
  #optimized: CaptureBase['optimized'];
  #lens: LogitLens | undefined;

  private constructor(
    private readonly proto: ModelProto,
    readonly bytes: Uint8Array,
    private readonly runtime: Runtime,
    private readonly options: LoadOptions,
    private readonly source: ModelSource,
    functions?: Pick<InlinedFunctions, 'classes' | 'ambiguous'>,
  ) {
    this.index = indexGraph(proto.graph!);
    checkStructure(this.index);
    // Numbered containers' gaps (a child without parameters or nodes) are listed by the map itself (untraced.ts).
    this.moduleMap = buildModuleMap(this.index, proto.metadataProps);
    if (functions) {
      applyFunctionEvidence(this.moduleMap, functions);
      gapsNamedByParameters(this.moduleMap.modules);
    }
  }

  /** Parses and checks the bytes (nothing reaches the native runtime until a run). */
  static fromBytes(
    bytes: Uint8Array,
    runtime: Runtime,
    options: LoadOptions = {},
    source: ModelSource = {},
  ): NeurotapModel {
    checkThreads(options.threads);
    const proto = decodeModel(bytes);
    if (!proto.graph?.node?.length || proto.irVersion === undefined) {
      throw new NeurotapError(
        'E_NOT_ONNX',
        `The data is not an ONNX model (no ${proto.graph ? 'nodes' : 'graph'} in ${bytes.length} bytes).`,
        {
          hint: 'Pass a file written by torch.onnx.export (or another ONNX exporter).',
        },
      );
    }
    // Values inside local functions cannot be returned: mapping and capture use the inlined graph
    // (plain runs still use the original bytes).
    const inlined = inlineLocalFunctions(proto);
    // Stacked recurrent modules' h_n / c_n, which the export leaves per layer, are assembled the same way.
    const mapped = inlined?.model ?? proto;
    // Both branches of a merged decoder name their values alike: indexed apart (branch-names.ts).
    uniqueBranchValues(mapped.graph!);
    return new NeurotapModel(assembleRecurrentStates(mapped) ?? mapped, bytes, runtime, options, source, inlined);
  }

  /**
   * `fromBytes`, then the graph captures start from, computed now: for a QDQ model on the CPU
   * execution provider that is ONNX Runtime's optimised graph (one session creation), so that
   * `plan()` reports the values it fuses away as `capture` does. Node's `loadModel` uses it.
   */
  static async load(
    bytes: Uint8Array,
    runtime: Runtime,
    options: LoadOptions = {},
    source: ModelSource = {},
  ): Promise<NeurotapModel> {
    const model = NeurotapModel.fromBytes(bytes, runtime, options, source);
    await model.#captureBase();
    return model;
  }

  get inputNames(): readonly string[] {
    return this.index.inputs;
  }

  get outputNames(): readonly string[] {
    return this.index.outputs;
  }

  /** The graph's inputs: name, dtype and declared shape. */
  get inputs(): ValueInfo[] {
    return this.index.inputs.map((name) => this.valueInfo(name));
  }

  /** The graph's outputs: name, dtype and declared shape. */
  get outputs(): ValueInfo[] {
    return this.index.outputs.map((name) => this.valueInfo(name));
  }

  /** What the graph declares about any value (input, output, or intermediate); dtype 'unknown' and shape null when nothing. */
  valueInfo(name: string): ValueInfo {
    const type = this.index.types.get(name);
    return { name, dtype: ONNX_DTYPE[declaredElemType(type) ?? 0] ?? 'unknown', shape: declaredShape(type) ?? null };
  }

  /** Position in the graph (topological order) of the node producing `value`; undefined for inputs and weights. */
  valuePosition(value: string): number | undefined {
    return this.index.producer.get(value);
  }

  /** Where the module names come from: the dynamo exporter's metadata, or the ONNX node names. */
  get moduleNameSource(): ModuleMap['source'] {
    return this.moduleMap.source;
  }

  /**
   * How complete the module list is: how many modules each kind of evidence gave (worded in
   * `summary`), and a `warning` when most modules the model names left no trace in the graph.
   */
  get moduleEvidence(): { counts: ModuleEvidence; summary: string; warning?: string } {
    const warning = completenessWarning(this.moduleMap);
    return {
      counts: this.moduleMap.evidence,
      summary: evidenceSummary(this.moduleMap),
      ...(warning ? { warning } : {}),
    };
  }

  /** Bytes of weights, embedded or in external files, from the tensor headers alone. */
  weightBytes(): number {
    let bytes = 0;
    for (const t of this.proto.graph?.initializer ?? []) {
      const external = t.externalData?.find((e) => e.key === 'length')?.value;
      bytes += external !== undefined ? Number(external) : (t.rawData?.length ?? 0);
    }
    return bytes;
  }

  /**
   * For each module, the position in the graph of the first node of its calls that computes from
   * data (constants and weight-only nodes may sit anywhere): sorting by it gives call order.
   */
  callOrder(): ReadonlyMap<string, number> {
    this.#callOrder ??= firstDataNodes(this.moduleMap, this.index);
    return this.#callOrder;
  }

  /** The module tree, like PyTorch's `named_modules()` (the root excluded), in execution order. */
  modules(): ModuleSummary[] {
    return this.moduleMap.modules.map((m) => ({
      name: m.name,
      type: m.type,
      calls: m.calls.length,
      children: [...m.children],
      leaf: m.children.length === 0,
      ops: [...m.ops],
      outputShapes: m.calls.map((c) => c.outputs.map((v) => declaredShape(this.index.types.get(v)) ?? null)),
      ...(m.notObservable ? { notObservable: { ...m.notObservable } } : {}),
    }));
  }

  /** What an input is for (token ids and their vocabulary, mask, positions, KV cache): input-roles.ts. */
  inputRole(name: string): InputRole {
    return inputRole(this.index, name);
  }

  module(name: string): ModuleInfo | undefined {
    return this.moduleMap.get(name);
  }

  /**
   * The values computed between modules (torchvision's get_graph_node_names): `layer1.0/add` for the
   * ONNX value `/layer1/layer1.0/Add_output_0`; each name works in `layers`.
   */
  valueNames(): ValueName[] {
    return valueNames(this.moduleMap, this.index);
  }

  /** Which keys a capture with these options would return, and which modules it cannot observe. */
  plan(options: CaptureOptions = {}): Selection {
    const selection = selectTargets(this.moduleMap, this.index, options);
    // Edits name nodes of the model's own graph, so such captures run on it (nothing fused away).
    const edits = Object.keys(options.edit ?? {}).length > 0 || (options.editable ?? []).length > 0;
    return edits ? selection : dropFusedTargets(selection, this.#optimized);
  }

  /** Plain inference on the unmodified graph, firing any registered hooks. */
  async run(feeds: Feeds): Promise<Record<string, Tensor>> {
    if (this.#hooks.size === 0) {
      const { session } = await this.#session([], true);
      return await this.#runSession(session, prepareFeeds(this.index, this.runtime, feeds), this.#returnableOutputs());
    }
    const hooks = this.#hooks.begin();
    // Forward hooks that may return a tensor run during the run, where the graph is cut for them.
    const isTop = (t: CaptureTarget) => valueContext(this.index, t.value).length === 0 && !t.siteContext?.length;
    const live = hooks.live(this.plan(hooks.options).targets, this.moduleMap, isTop);
    const acts = await this.#captureOnce(feeds, live ? { ...hooks.options, edit: live.edit } : hooks.options);
    if (live) await live.finish(acts);
    else await hooks.fire(acts, this.moduleMap);
    return { ...acts.outputs };
  }

  /**
   * Runs the model once and returns the activations of the selected layers (default: every leaf
   * module). Registered hooks fire during the same run, as they would in PyTorch's forward pass.
   */
  async capture(feeds: Feeds, options: CaptureOptions = {}): Promise<ActivationCache> {
    if (options.float32) return upcastFloat16(await this.capture(feeds, { ...options, float32: false }), this.runtime);
    const rename = isRenameMap(options.layers) ? renamer(options.layers) : undefined;
    const specs = isRenameMap(options.layers) ? Object.keys(options.layers) : [options.layers ?? 'leaves'].flat();
    // Keys are numbered per call after the run, so a rename applies to the finished capture.
    if (this.#hooks.size === 0) {
      const acts = await this.#captureOnce(feeds, { ...options, layers: specs });
      return rename ? acts.renamed(rename) : acts;
    }
    if (options.stackCalls || (options.reduce !== undefined && options.reduce !== 'none')) {
      // One run cannot hand the hooks whole per-call tensors and the caller stacked or reduced ones.
      throw new NeurotapError('E_BAD_ARGUMENT', 'Forward hooks are registered, and this capture stacks or reduces.', {
        hint: 'Hooks receive what the module returned, per call: remove them (handle.remove()) for this capture, or capture without stackCalls/reduce.',
      });
    }
    const own = this.plan({ ...options, layers: specs });
    const hooks = this.#hooks.begin();
    const hooked = hooks.options.layers as string[];
    const acts = await this.#captureOnce(feeds, { ...options, layers: [...specs, ...hooked], inputs: true });
    await hooks.fire(acts, this.moduleMap);
    const asked = acts.only(new Set([...own.targets.map((t) => t.key), ...own.notObservable.map((u) => u.key)]));
    return rename ? asked.renamed(rename) : asked;
  }

  async #captureOnce(feeds: Feeds, options: CaptureOptions): Promise<ActivationCache> {
    const plan = await this.#capturePlan(options);
    const { edits, capture, source } = plan;
    const prepared = prepareFeeds(this.index, this.runtime, feeds);
    const runFeeds = edits ? { ...prepared, ...edits.feeds(this.runtime) } : prepared;
    const run = (s: InferenceSession, f: Record<string, Tensor>, o: string[]) => this.#runSession(s, f, o);
    const fetched = capture.cut
      ? await runCut(this.index, capture.cut, edits!.callbacks, runFeeds, capture.outputOf, this.runtime, run)
      : await run(capture.session, runFeeds, plan.fetches);
    const fetchedOrFed = (t: CaptureTarget) => {
      const from = source.get(t);
      return from === undefined ? prepared[t.value] : fetched[from];
    };
    const read = (t: CaptureTarget) => {
      const base = plan.views.get(t);
      return base ? viewTensor(this.runtime, fetchedOrFed(base), fetchedOrFed(t)) : fetchedOrFed(t);
    };
    const cond = (value: string) =>
      value in prepared
        ? prepared[value]
        : (this.#constantCondition(value) ?? fetched[capture.outputOf.get(requestKey({ value, reduce: 'none' }))!]);
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
      : resolveCalls(this.index, this.runtime, targets, read, cond, plan.stack, records);
    const outputs: Record<string, Tensor> = {};
    for (const o of plan.modelOutputs) outputs[o] = fetched[o];
    // A key one If branch returned is not "not called" because the other branch's site of it did not run.
    const notCalled = resolved.notCalled.filter((u) => !resolved.tensors.has(u.key));
    const notObservable = [...plan.notObservable, ...notCalled];
    return new ActivationCache(resolved.tensors, resolved.targets, notObservable, outputs, this.source.saveTensors);
  }

  /**
   * What a capture with these options decides before running (selection, requests, session, the
   * output each key is read from), shared by every capture with equal options: a small model's
   * capture is mostly this. Options holding edit tensors or callbacks plan afresh each time.
   */
  #capturePlan(options: CaptureOptions): Promise<CapturePlan> {
    const key = options.edit || options.editable ? undefined : planKey(options);
    if (key === undefined) return this.#buildPlan(options);
    let plan = this.#plans.get(key);
    if (!plan) {
      if (this.#plans.size >= MAX_PLANS) this.#plans.delete(this.#plans.keys().next().value!);
      plan = this.#buildPlan(options);
      plan.catch(() => this.#plans.delete(key));
      this.#plans.set(key, plan);
    }
    return plan;
  }

  async #buildPlan(options: CaptureOptions): Promise<CapturePlan> {
    const edits = planEdits(this.moduleMap, this.index, options);
    const selection = await this.#selection(options, edits);
    const mode = requestMode(this.index, options, edits, selection);
    const keepOutputs = options.stop !== true;
    const capture = await this.#session(this.#requestsFor(selection, mode), keepOutputs, edits);
    const modelOutputs = keepOutputs ? this.#returnableOutputs() : [];
    const metas = [...capture.ragged.values()].map((m) => m.meta);
    const source = new Map<CaptureTarget, string | undefined>();
    const ragged = new Map<CaptureTarget, { meta: string; loops: number }>();
    for (const t of selection.targets) {
      const request = this.#requestOf(t, mode);
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
      notObservable: [...selection.notObservable, ...(keepOutputs ? this.#unreturnableOutputs() : [])],
      keyed: ragged.size || capture.cut ? undefined : this.#runIndependentKeys(selection.targets),
    };
  }

  #runIndependentKeys(targets: readonly CaptureTarget[]): CapturePlan['keyed'] {
    const outside = (t: CaptureTarget) => !t.siteContext?.length && valueContext(this.index, t.value).length === 0;
    if (!targets.every(outside)) return undefined;
    // Each target stands in for its own tensor: the keys come out paired with what they read.
    const asTensor = (t: CaptureTarget) => t as unknown as Tensor;
    const keyed = resolveCalls(this.index, this.runtime, targets, asTensor, () => undefined, false);
    return {
      entries: [...keyed.tensors].map(([key, t]) => [key, t as unknown as CaptureTarget]),
      targets: keyed.targets,
    };
  }

  /** An If condition stored in the model as an initializer (a bool scalar: raw byte or int32 field). */
  #constantCondition(value: string): { data: readonly boolean[] } | undefined {
    if (!this.index.initializers.has(value)) return undefined;
    const t = this.index.graph.initializer?.find((i) => i.name === value);
    if (!t) return undefined;
    return { data: [(t.rawData?.length ? t.rawData[0] : Number(t.int32Data?.[0] ?? 0)) !== 0] };
  }

  /** Model outputs the JS API can return: fetching an int4 output would abort the Node binding. */
  #returnableOutputs(): string[] {
    return this.index.outputs.filter((o) => !unreturnableType(inferElemType(this.index, o)));
  }

  #unreturnableOutputs(): Unobservable[] {
    return this.index.outputs.flatMap((o) => {
      const dtype = unreturnableType(inferElemType(this.index, o));
      if (!dtype) return [];
      const reason = `a model output of type ${dtype}: ONNX Runtime's JS API cannot return ${dtype} values`;
      return [{ key: `output:${o}`, module: o, reason, hint: 'Capture the values it is computed from instead.' }];
    });
  }

  /** Builds (and caches) the session a capture with these options will use, without running it. */
  async prepare(options: CaptureOptions = {}): Promise<void> {
    const edits = planEdits(this.moduleMap, this.index, options);
    const selection = await this.#selection(options, edits);
    await this.#session(
      this.#requestsFor(selection, requestMode(this.index, options, edits, selection)),
      options.stop !== true,
      edits,
    );
  }

  /** The plan, less the values ONNX Runtime's optimised graph no longer holds (edits run on the model's own graph). */
  async #selection(options: CaptureOptions, edits: EditPlan | undefined): Promise<Selection> {
    if (!edits) await this.#captureBase();
    return this.plan(options);
  }

  /**
   * What the capture graph returns for a target; undefined for an unreduced graph input, which is
   * returned from the feeds (unless it is cast to float16).
   */
  #requestOf(t: CaptureTarget, mode: RequestMode): ExposeRequest | undefined {
    const { dequantize, edits } = mode;
    const float =
      inferElemType(this.index, t.value) === DataType.FLOAT || (dequantize && !!quantParams(this.index, t.value));
    const float16 = mode.float16 && float;
    if (t.reduce === 'none' && !float16 && !t.derive && this.index.inputs.includes(t.value)) return undefined;
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
  #requestsFor(selection: Selection, mode: RequestMode): ExposeRequest[] {
    const { edits } = mode;
    // A condition fed by the user or stored as an initializer is known without running the graph.
    const conditions = branchConditions(this.index, selection.targets)
      .filter((value) => !this.index.inputs.includes(value) && !this.index.initializers.has(value))
      .map((value) => ({ value, reduce: 'none' as const }));
    const targets = selection.targets.flatMap((t) => this.#requestOf(t, mode) ?? []);
    // What each JS callback edit receives (the graph is cut there).
    const callbacks = (edits?.callbacks ?? []).map((c) => c.unedited);
    return [...targets, ...callbacks, ...conditions];
  }

  /**
   * Logit lens: the final norm and LM head on every hidden state (default: the `hidden_states`
   * preset), top tokens per layer and position (src/lens/lens.ts); one extra session.
   */
  async lens(feeds: Feeds, options: LensOptions = {}): Promise<LensResult> {
    return this.#logitLens().run(feeds, options);
  }

  /** The final norm and LM head the lens runs, and the value it cuts at; E_NO_LM_HEAD when there are none. */
  lensHead(): { norm: string; head: string; stream?: string } {
    // stream: the value the graph is cut at; absent where a fused node computes it inside (SkipLayerNormalization).
    const { norm, head, stream } = this.#logitLens().head;
    return { norm, head, ...(stream !== undefined ? { stream } : {}) };
  }

  #logitLens(): LogitLens {
    this.#lens ??= new LogitLens({
      proto: this.proto,
      index: this.index,
      map: this.moduleMap,
      runtime: this.runtime,
      plan: (o) => this.plan(o),
      capture: (f, o) => this.capture(f, o),
      createSession: (model) => this.#createLensSession(model),
      runSession: (s, f, o) => this.#runSession(s, f, o),
    });
    return this.#lens;
  }

  async #createLensSession(model: Uint8Array): Promise<InferenceSession> {
    const external = externalDataFiles(this.proto);
    const options = sessionOptions(this.options, external.length ? this.source.externalDataFolder : undefined);
    try {
      return await this.runtime.InferenceSession.create(model, options);
    } catch (cause) {
      throw new NeurotapError('E_RUNTIME', `ONNX Runtime could not load the logit lens's head: ${firstLine(cause)}`, {
        hint: 'The final norm and LM head did not load on their own; report the model.',
        cause,
      });
    }
  }

  /** Calls `hook(module, inputs, output)` after each call of the module during `run`; dispose the handle to remove it. */
  registerForwardHook(name: string, hook: ForwardHook): HookHandle {
    checkHookTarget(this.moduleMap, this.index, name, 'forward');
    return this.#hooks.add(name, 'forward', hook);
  }

  /** Calls `hook(module, inputs)` for each call of the module during `run`. */
  registerForwardPreHook(name: string, hook: ForwardPreHook): HookHandle {
    checkHookTarget(this.moduleMap, this.index, name, 'pre');
    return this.#hooks.add(name, 'pre', hook);
  }

  /** Releases every ONNX Runtime session this model created. */
  async release(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await this.#lens?.release();
    this.#plans.clear();
    // A session that failed to build has nothing to release.
    for (const s of sessions)
      await s.then(
        async (c) => {
          for (const session of c.cut ? c.cut.segments.map((g) => g.session) : [c.session]) await session.release();
        },
        () => undefined,
      );
  }

  /** One session per capture graph (requested values, reductions, early stop), reused by later captures. */
  #session(requests: readonly ExposeRequest[], keepOutputs: boolean, edits?: EditPlan): Promise<CaptureSession> {
    const keys = [...new Set(requests.map(requestKey))].sort().join('\u0001');
    const callbacks = edits?.callbacks.map((c) => c.target.key).join('\u0002') ?? '';
    const key = `${keepOutputs}\u0001${edits?.signature ?? ''}\u0003${callbacks}\u0003${keys}`;
    let session = this.#sessions.get(key);
    if (!session) {
      session = this.#createSession(requests, keepOutputs, edits);
      session.catch(() => this.#sessions.delete(key));
      this.#sessions.set(key, session);
    }
    return session;
  }

  async #createSession(
    requests: readonly ExposeRequest[],
    keepOutputs: boolean,
    edits?: EditPlan,
  ): Promise<CaptureSession> {
    const external = externalDataFiles(this.proto);
    for (const location of external) await this.source.checkExternalData?.(location);
    const plain = requests.length === 0 && keepOutputs && !edits;
    // Edits name nodes of the model's own graph, so they run on it (a QDQ model's float emulation).
    const base = plain ? undefined : edits ? { proto: this.proto, index: this.index } : await this.#captureBase();
    const graph = base ? buildCaptureGraph(base.proto, base.index, requests, keepOutputs, edits?.edits) : undefined;
    const options = sessionOptions(this.options, external.length ? this.source.externalDataFolder : undefined);
    // ONNX Runtime already optimised that graph: optimising again would not change it, extra outputs aside.
    if (base?.optimized) options.graphOptimizationLevel = 'disabled';
    const create = (model: Uint8Array) => this.runtime.InferenceSession.create(model, options);
    try {
      if (graph && edits?.callbacks.length) {
        const cut = await cutSessions(this.index, graph, edits.callbacks, (m) => create(encodeModel(m)));
        return { session: cut.segments[0].session, outputOf: graph.outputOf, ragged: graph.ragged, cut };
      }
      const session = await create(graph ? encodeModel(graph.model) : this.bytes);
      return { session, outputOf: graph?.outputOf ?? new Map(), ragged: graph?.ragged ?? new Map() };
    } catch (cause) {
      // An execution provider that cannot load its libraries (CUDA, cuDNN) is not the model's fault.
      const provider = /ExecutionProvider|providers_shared|load shared library/i.test(firstLine(cause));
      throw new NeurotapError('E_RUNTIME', `ONNX Runtime could not load the model: ${firstLine(cause)}`, {
        hint: provider
          ? `An execution provider of ${JSON.stringify(options.executionProviders)} could not load its native libraries (for CUDA: CUDA 12 and cuDNN 9 on the library path); run with executionProviders ['cpu'] or install them.`
          : 'Check that the model runs with plain onnxruntime; report the model if it does.',
        cause,
      });
    }
  }

  /** For a QDQ model on the CPU EP, ONNX Runtime's optimised graph (its integer kernels), computed once. */
  #captureBase(): Promise<CaptureBase> {
    const request = { ...this.options, external: externalDataFiles(this.proto).length > 0 };
    this.#base ??= loadCaptureBase(
      this.proto,
      this.index,
      this.bytes,
      this.source,
      request,
      sessionOptions(this.options, undefined),
    );
    this.#base.then(
      (base) => {
        this.#optimized = base.optimized;
      },
      () => {
        this.#base = undefined;
      },
    );
    return this.#base;
  }

  async #runSession(
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    fetches: string[],
  ): Promise<Record<string, Tensor>> {
    try {
      return (await session.run(feeds, fetches)) as Record<string, Tensor>;
    } catch (cause) {
      throw new NeurotapError('E_RUNTIME', `ONNX Runtime failed to run the model: ${firstLine(cause)}`, {
        hint: 'Check the input shapes and values against `neurotap layers MODEL`.',
        cause,
      });
    }
  }
}

function checkThreads(threads: number | undefined): void {
  if (threads === undefined || (Number.isSafeInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) return;
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected threads from 1 to ${MAX_THREADS}; got ${threads}.`, {
    hint: 'Leave it out for ONNX Runtime to choose; at most the number of cores helps.',
  });
}

function sessionOptions(options: LoadOptions, externalDataFolder: string | undefined): InferenceSession.SessionOptions {
  return {
    // Warnings (e.g. an optimiser declining a rewrite) are not the user's concern; errors still throw.
    logSeverityLevel: 3,
    ...(externalDataFolder
      ? { extra: { session: { model_external_initializers_file_folder_path: externalDataFolder } } }
      : {}),
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    ...(options.graphOptimizationLevel ? { graphOptimizationLevel: options.graphOptimizationLevel } : {}),
  };
}

/** Distinct external-data file locations named by the model's initializers. */
export function externalDataFiles(proto: ModelProto): string[] {
  const files = new Set<string>();
  for (const t of proto.graph?.initializer ?? []) {
    if (t.dataLocation !== 1) continue;
    const location = t.externalData?.find((e) => e.key === 'location')?.value;
    if (location) files.add(location);
  }
  return [...files];
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}
