/**
 * A model's plans, worked out once per option set: `plan()`'s selection and a capture's whole
 * plan (capture-plan.ts). A selection depends on the capture base too: for a QDQ model loaded with
 * `fromBytes`, ONNX Runtime's optimised graph becomes known at the first capture and the values it
 * fused away drop out of later plans, so selections are kept per base and dropped when it changes.
 */
import { PromiseCache } from '../promise-cache.js';
import type { CaptureOptions } from './capture-options.js';
import type { ModelParts } from './model-parts.js';
import type { CaptureBaseCache } from './base-cache.js';
import { buildCapturePlan, type CapturePlan } from './capture-plan.js';
import { planEdits, type EditPlan } from './edits.js';
import { planKey } from './plan-key.js';
import { dropFusedTargets, type CaptureBase } from './runtime-optimized.js';
import { selectTargets, type Selection } from './select.js';
import type { SessionCache } from './session-cache.js';

/** Distinct option sets whose plans a model keeps (a sweep over layers plans each once, within this). */
const MAX_PLANS = 64;

export class PlanCache {
  readonly #selections = new Map<string, Selection>();
  /** The base the kept selections were made on (undefined: the model's own graph, or not yet known). */
  #selectionsBase: CaptureBase['optimized'];
  readonly #plans = new PromiseCache<CapturePlan>(MAX_PLANS);

  constructor(
    private readonly parts: ModelParts,
    private readonly base: CaptureBaseCache,
    private readonly sessions: SessionCache,
  ) {}

  /**
   * Which keys a capture with these options would return, and which modules it cannot observe.
   * Each call gets its own arrays; the targets in them are shared (readonly) between calls.
   */
  select(options: CaptureOptions): Selection {
    const optimized = this.base.optimized;
    if (optimized !== this.#selectionsBase) {
      this.#selections.clear();
      this.#selectionsBase = optimized;
    }
    const key = planKey(options);
    const kept =
      key === undefined ? this.#select(options) : remember(this.#selections, key, () => this.#select(options));
    return { targets: [...kept.targets], notObservable: [...kept.notObservable] };
  }

  /** The selection, less the values ONNX Runtime's optimised graph no longer holds (edits run on the model's own graph). */
  async selection(options: CaptureOptions, edits: EditPlan | undefined): Promise<Selection> {
    if (!edits) await this.base.get();
    return this.select(options);
  }

  /**
   * What a capture with these options decides before running, shared by every capture with equal
   * options: a small model's capture is mostly this. Options holding edit tensors or callbacks
   * plan afresh each time.
   */
  capturePlan(options: CaptureOptions): Promise<CapturePlan> {
    const key = options.edit || options.editable ? undefined : planKey(options);
    if (key === undefined) return this.#buildPlan(options);
    return this.#plans.get(key, () => this.#buildPlan(options));
  }

  clear(): void {
    this.#plans.take();
    this.#selections.clear();
  }

  #select(options: CaptureOptions): Selection {
    const selection = selectTargets(this.parts.moduleMap, this.parts.index, options);
    // Edits name nodes of the model's own graph, so such captures run on it (nothing fused away).
    const edits = Object.keys(options.edit ?? {}).length > 0 || (options.editable ?? []).length > 0;
    return edits ? selection : dropFusedTargets(selection, this.base.optimized);
  }

  async #buildPlan(options: CaptureOptions): Promise<CapturePlan> {
    const edits = planEdits(this.parts.moduleMap, this.parts.index, options);
    const selection = await this.selection(options, edits);
    return buildCapturePlan(this.parts, this.sessions, options, edits, selection);
  }
}

/** The kept value for key, made and kept on first use; the oldest is forgotten past MAX_PLANS. */
function remember<T>(kept: Map<string, T>, key: string, make: () => T): T {
  if (kept.has(key)) return kept.get(key)!;
  if (kept.size >= MAX_PLANS) kept.delete(kept.keys().next().value!);
  const value = make();
  kept.set(key, value);
  return value;
}
