/**
 * A loaded model: its PyTorch module tree, plain inference, capture and forward hooks.
 * Isomorphic: it takes bytes and a Runtime, never a file path or a specific onnxruntime package.
 * The capture machinery lives in capture/ (plan-cache, capture-plan, session-cache, run-plan,
 * base-cache); this class holds the parts and the public API.
 *
 * ```ts
 * const model = await NeurotapModel.fromBytes(bytes, ort);
 * const acts = await model.capture({ x }, { layers: 'leaves' });
 * ```
 */
import type { ActivationCache } from './capture/activation-cache.js';
import { CaptureBaseCache } from './capture/base-cache.js';
import { requestMode, requestsFor, returnableOutputs } from './capture/capture-plan.js';
import { planEdits } from './capture/edits.js';
import { prepareFeeds, type Feeds } from './capture/feeds.js';
import {
  checkHookTarget,
  HookRegistry,
  type ForwardHook,
  type ForwardPreHook,
  type HookHandle,
} from './capture/hooks.js';
import { PlanCache } from './capture/plan-cache.js';
import { isRenameMap, renamer } from './capture/rename.js';
import { runCapturePlan } from './capture/run-plan.js';
import type { CaptureTarget, Selection } from './capture/select.js';
import { SessionCache } from './capture/session-cache.js';
import { upcastFloat16 } from './capture/upcast.js';
import { valueNames, type ValueName } from './capture/value-names.js';
import { NeurotapError } from './errors.js';
import { declaredElemType, declaredShape } from './graph/graph-index.js';
import { inputRole, type InputRole } from './graph/input-roles.js';
import { valueContext } from './graph/rewrite.js';
import type { LensOptions, LensResult, LogitLens } from './lens/lens.js';
import { modelLens } from './lens/model-lens.js';
import { parseModel } from './parse-model.js';
import type { CaptureOptions } from './capture/capture-options.js';
import type { ModelParts } from './capture/model-parts.js';
import { firstDataNodes } from './modules/call-order.js';
import { completenessWarning, evidenceSummary, type ModuleEvidence } from './modules/module-evidence.js';
import type { ModuleInfo, ModuleMap } from './modules/module-map.js';
import { moduleSummaries, weightBytes, type ModuleSummary } from './modules/module-summary.js';
import type { ModelSource, Runtime, Tensor } from './runtime/runtime.js';
import { runSession, type LoadOptions } from './runtime/session-options.js';
import { ONNX_DTYPE, type DType } from './tensor.js';

export type { CaptureOptions } from './capture/capture-options.js';
export type { ModuleSummary } from './modules/module-summary.js';
export { externalDataFiles, MAX_THREADS, type LoadOptions } from './runtime/session-options.js';

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
  readonly bytes: Uint8Array;
  readonly #parts: ModelParts;
  #callOrder: ReadonlyMap<string, number> | undefined;
  readonly #hooks = new HookRegistry();
  readonly #base: CaptureBaseCache;
  readonly #sessions: SessionCache;
  readonly #plans: PlanCache;
  #lens: LogitLens | undefined;

  private constructor(parts: ModelParts) {
    this.#parts = parts;
    this.bytes = parts.bytes;
    this.#base = new CaptureBaseCache(parts);
    this.#sessions = new SessionCache(parts, this.#base);
    this.#plans = new PlanCache(parts, this.#base, this.#sessions);
  }

  /** Parses and checks the bytes (nothing reaches the native runtime until a run). */
  static fromBytes(
    bytes: Uint8Array,
    runtime: Runtime,
    options: LoadOptions = {},
    source: ModelSource = {},
  ): NeurotapModel {
    return new NeurotapModel(parseModel(bytes, runtime, options, source));
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
    await model.#base.get();
    return model;
  }

  get inputNames(): readonly string[] {
    return this.#parts.index.inputs;
  }

  get outputNames(): readonly string[] {
    return this.#parts.index.outputs;
  }

  /** The graph's inputs: name, dtype and declared shape. */
  get inputs(): ValueInfo[] {
    return this.#parts.index.inputs.map((name) => this.valueInfo(name));
  }

  /** The graph's outputs: name, dtype and declared shape. */
  get outputs(): ValueInfo[] {
    return this.#parts.index.outputs.map((name) => this.valueInfo(name));
  }

  /** What the graph declares about any value (input, output, or intermediate); dtype 'unknown' and shape null when nothing. */
  valueInfo(name: string): ValueInfo {
    const type = this.#parts.index.types.get(name);
    return { name, dtype: ONNX_DTYPE[declaredElemType(type) ?? 0] ?? 'unknown', shape: declaredShape(type) ?? null };
  }

  /** Position in the graph (topological order) of the node producing `value`; undefined for inputs and weights. */
  valuePosition(value: string): number | undefined {
    return this.#parts.index.producer.get(value);
  }

  /** Where the module names come from: the dynamo exporter's metadata, or the ONNX node names. */
  get moduleNameSource(): ModuleMap['source'] {
    return this.#parts.moduleMap.source;
  }

  /**
   * How complete the module list is: how many modules each kind of evidence gave (worded in
   * `summary`), and a `warning` when most modules the model names left no trace in the graph.
   */
  get moduleEvidence(): { counts: ModuleEvidence; summary: string; warning?: string } {
    const { moduleMap } = this.#parts;
    const warning = completenessWarning(moduleMap);
    return {
      counts: moduleMap.evidence,
      summary: evidenceSummary(moduleMap),
      ...(warning ? { warning } : {}),
    };
  }

  /** Bytes of weights, embedded or in external files, from the tensor headers alone. */
  weightBytes(): number {
    return weightBytes(this.#parts.proto);
  }

  /**
   * For each module, the position in the graph of the first node of its calls that computes from
   * data (constants and weight-only nodes may sit anywhere): sorting by it gives call order.
   */
  callOrder(): ReadonlyMap<string, number> {
    this.#callOrder ??= firstDataNodes(this.#parts.moduleMap, this.#parts.index);
    return this.#callOrder;
  }

  /** The module tree, like PyTorch's `named_modules()` (the root excluded), in execution order. */
  modules(): ModuleSummary[] {
    return moduleSummaries(this.#parts.moduleMap, this.#parts.index);
  }

  /** What an input is for (token ids and their vocabulary, mask, positions, KV cache): input-roles.ts. */
  inputRole(name: string): InputRole {
    return inputRole(this.#parts.index, name);
  }

  module(name: string): ModuleInfo | undefined {
    return this.#parts.moduleMap.get(name);
  }

  /**
   * The values computed between modules (torchvision's get_graph_node_names): `layer1.0/add` for the
   * ONNX value `/layer1/layer1.0/Add_output_0`; each name works in `layers`.
   */
  valueNames(): ValueName[] {
    return valueNames(this.#parts.moduleMap, this.#parts.index);
  }

  /**
   * Which keys a capture with these options would return, and which modules it cannot observe.
   * Worked out once per option set and capture base (plan-cache.ts); each call gets its own arrays.
   */
  plan(options: CaptureOptions = {}): Selection {
    return this.#plans.select(options);
  }

  /** Plain inference on the unmodified graph, firing any registered hooks. */
  async run(feeds: Feeds): Promise<Record<string, Tensor>> {
    const { index, runtime, moduleMap } = this.#parts;
    if (this.#hooks.size === 0) {
      const { session } = await this.#sessions.get([], true);
      return await runSession(session, prepareFeeds(index, runtime, feeds), returnableOutputs(index));
    }
    const hooks = this.#hooks.begin();
    // Forward hooks that may return a tensor run during the run, where the graph is cut for them.
    const isTop = (t: CaptureTarget) => valueContext(index, t.value).length === 0 && !t.siteContext?.length;
    const live = hooks.live(this.plan(hooks.options).targets, moduleMap, isTop);
    const acts = await this.#captureOnce(feeds, live ? { ...hooks.options, edit: live.edit } : hooks.options);
    if (live) await live.finish(acts);
    else await hooks.fire(acts, moduleMap);
    return { ...acts.outputs };
  }

  /**
   * Runs the model once and returns the activations of the selected layers (default: every leaf
   * module). Registered hooks fire during the same run, as they would in PyTorch's forward pass.
   */
  async capture(feeds: Feeds, options: CaptureOptions = {}): Promise<ActivationCache> {
    const { runtime, moduleMap } = this.#parts;
    if (options.float32) return upcastFloat16(await this.capture(feeds, { ...options, float32: false }), runtime);
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
    await hooks.fire(acts, moduleMap);
    const asked = acts.only(new Set([...own.targets.map((t) => t.key), ...own.notObservable.map((u) => u.key)]));
    return rename ? asked.renamed(rename) : asked;
  }

  async #captureOnce(feeds: Feeds, options: CaptureOptions): Promise<ActivationCache> {
    return runCapturePlan(this.#parts, await this.#plans.capturePlan(options), feeds);
  }

  /** Builds (and caches) the session a capture with these options will use, without running it. */
  async prepare(options: CaptureOptions = {}): Promise<void> {
    const { index, moduleMap } = this.#parts;
    const edits = planEdits(moduleMap, index, options);
    const selection = await this.#plans.selection(options, edits);
    await this.#sessions.get(
      requestsFor(index, selection, requestMode(index, options, edits, selection)),
      options.stop !== true,
      edits,
    );
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
    this.#lens ??= modelLens(
      this.#parts,
      (o) => this.plan(o),
      (f, o) => this.capture(f, o),
    );
    return this.#lens;
  }

  /** Calls `hook(module, inputs, output)` after each call of the module during `run`; dispose the handle to remove it. */
  registerForwardHook(name: string, hook: ForwardHook): HookHandle {
    checkHookTarget(this.#parts.moduleMap, this.#parts.index, name, 'forward');
    return this.#hooks.add(name, 'forward', hook);
  }

  /** Calls `hook(module, inputs)` for each call of the module during `run`. */
  registerForwardPreHook(name: string, hook: ForwardPreHook): HookHandle {
    checkHookTarget(this.#parts.moduleMap, this.#parts.index, name, 'pre');
    return this.#hooks.add(name, 'pre', hook);
  }

  /** Releases every ONNX Runtime session this model created. */
  async release(): Promise<void> {
    const released = this.#sessions.release();
    await this.#lens?.release();
    this.#plans.clear();
    await released;
  }
}
