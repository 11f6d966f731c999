/**
 * The graph a model's captures start from, loaded once: for a QDQ model on the CPU execution
 * provider ONNX Runtime's optimised graph (runtime-optimized.ts), else the model's own. Until it is
 * loaded, `optimized` is undefined, so what plans drop as fused away can change once it settles.
 */
import type { ModelParts } from './model-parts.js';
import { externalDataFiles, sessionOptions } from '../runtime/session-options.js';
import { loadCaptureBase, type CaptureBase } from './runtime-optimized.js';

export class CaptureBaseCache {
  #base: Promise<CaptureBase> | undefined;
  #optimized: CaptureBase['optimized'];

  constructor(private readonly parts: ModelParts) {}

  /** The graph values ONNX Runtime's optimisation removed, once its optimised graph is known (QDQ models on the CPU EP). */
  get optimized(): CaptureBase['optimized'] {
    return this.#optimized;
  }

  /** Loads the base on the first call (one session creation for a QDQ model); a failed load is retried next time. */
  get(): Promise<CaptureBase> {
    const { proto, index, bytes, source, options } = this.parts;
    const request = { ...options, external: externalDataFiles(proto).length > 0 };
    this.#base ??= loadCaptureBase(proto, index, bytes, source, request, sessionOptions(options, undefined));
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
}
