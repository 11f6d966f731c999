/**
 * What a capture returns: activations keyed as in files (`name`, `name:k`, `name#i`), the
 * modules that could not be observed and why, and the model's own outputs.
 *
 * ```ts
 * const acts = await model.capture({ x }, { layers: ['layer1.*'] });
 * acts.get('layer1.0.conv1')?.dims;
 * for (const [key, tensor] of acts) console.log(key, tensor.dims);
 * ```
 */
import type { Tensor } from '../runtime/runtime.js';
import type { CaptureTarget, Unobservable } from './select.js';

export class ActivationCache implements Iterable<[string, Tensor]> {
  readonly #tensors: Map<string, Tensor>;

  constructor(
    tensors: Map<string, Tensor>,
    /** What each key was read from: module, call, graph value. */
    readonly targets: readonly CaptureTarget[],
    /** Requested modules whose activation does not exist in the exported graph, with reasons. */
    readonly notObservable: readonly Unobservable[],
    /** The model's own outputs, by output name: unchanged by capturing. */
    readonly outputs: Readonly<Record<string, Tensor>>,
  ) {
    this.#tensors = tensors;
  }

  get(key: string): Tensor | undefined {
    return this.#tensors.get(key);
  }

  has(key: string): boolean {
    return this.#tensors.has(key);
  }

  get size(): number {
    return this.#tensors.size;
  }

  keys(): IterableIterator<string> {
    return this.#tensors.keys();
  }

  entries(): IterableIterator<[string, Tensor]> {
    return this.#tensors.entries();
  }

  [Symbol.iterator](): IterableIterator<[string, Tensor]> {
    return this.#tensors.entries();
  }

  /** Every call's output of one module, in call order (one entry for a module called once). */
  calls(module: string): Tensor[] {
    return this.targets
      .filter((t) => t.module === module && t.kind === 'output' && !t.key.includes('#'))
      .map((t) => this.#tensors.get(t.key)!);
  }

  /** Why a module or key has no activation, if it was requested and is not observable. */
  whyNotObservable(key: string): Unobservable | undefined {
    return this.notObservable.find((u) => u.key === key || u.module === key);
  }
}
