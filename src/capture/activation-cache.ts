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
import { recomputedMetadata } from './recomputed-marks.js';
import { NeurotapError } from '../errors.js';
import type { SavedTensors, Tensor, TensorSaver } from '../runtime/runtime.js';
import type { DType, HostTensor } from '../tensor.js';
import type { CaptureTarget, Unobservable } from './select.js';

/** The typed array each accessor returns. */
interface TypedByDType {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

const ACCESSORS = { float32: 1, float64: 1, int8: 1, uint8: 1, int32: 1, int64: 1, bool: 1 };

export class ActivationCache implements Iterable<[string, Tensor]> {
  readonly #tensors: Map<string, Tensor>;
  readonly #save: TensorSaver | undefined;

  constructor(
    tensors: Map<string, Tensor>,
    /** What each key was read from: module, call, graph value. */
    readonly targets: readonly CaptureTarget[],
    /** Requested modules whose activation does not exist in the exported graph, with reasons. */
    readonly notObservable: readonly Unobservable[],
    /** The model's own outputs, by output name: unchanged by capturing. */
    readonly outputs: Readonly<Record<string, Tensor>>,
    /** Writes files where the entry can (Node); `save` says so where it cannot. */
    save?: TensorSaver,
  ) {
    this.#tensors = tensors;
    this.#save = save;
  }

  /** The float32 data of a key, typed: `acts.float32('fc1')` instead of `acts.get('fc1')!.data as Float32Array`. */
  float32(key: string): Float32Array {
    return this.#typed(key, 'float32');
  }

  float64(key: string): Float64Array {
    return this.#typed(key, 'float64');
  }

  int8(key: string): Int8Array {
    return this.#typed(key, 'int8');
  }

  uint8(key: string): Uint8Array {
    return this.#typed(key, 'uint8');
  }

  int32(key: string): Int32Array {
    return this.#typed(key, 'int32');
  }

  int64(key: string): BigInt64Array {
    return this.#typed(key, 'int64');
  }

  bool(key: string): Uint8Array {
    return this.#typed(key, 'bool');
  }

  #typed<T extends keyof TypedByDType>(key: string, type: T): TypedByDType[T] {
    const t = this.#tensors.get(key);
    if (!t) {
      const why = this.whyNotObservable(key);
      const keys = [...this.#tensors.keys()];
      throw new NeurotapError(
        'E_UNKNOWN_LAYER',
        why
          ? `Key '${key}' is not observable: ${why.reason}.`
          : `This capture has no key '${key}'; it has ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}.`,
        { hint: why?.hint ?? 'Iterate over acts.keys() for the keys a capture returned.' },
      );
    }
    if ((t.type as DType) !== type) {
      throw new NeurotapError('E_BAD_ARGUMENT', `Key '${key}' holds ${t.type} data, not ${type}.`, {
        hint: `Use acts.${t.type in ACCESSORS ? t.type : 'get'}('${key}').`,
        details: { key, expected: type, given: t.type },
      });
    }
    return t.data as unknown as TypedByDType[T];
  }

  /** Activations under their keys, then the model outputs as `output:NAME`: what `save` writes. */
  tensors(): Map<string, HostTensor> {
    // ONNX Runtime tensors expose type, dims and data, which is all a HostTensor is.
    const out = new Map<string, HostTensor>([...this.#tensors].map(([k, t]) => [k, t as unknown as HostTensor]));
    for (const [name, t] of Object.entries(this.outputs)) out.set(`output:${name}`, t as unknown as HostTensor);
    return out;
  }

  /**
   * Writes the activations and outputs (`output:NAME`) to `.npz`, `.safetensors` or a directory of
   * `.npy` files (a path ending in `/`), through a temporary name: no half-written file. Node only.
   */
  async save(path: string): Promise<SavedTensors> {
    if (!this.#save) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        'Saving to a path needs the Node entry; this capture ran without one.',
        {
          hint: 'In a browser, encode the tensors instead: encodeNpz(acts.tensors()) or encodeSafetensors(acts.tensors()).',
        },
      );
    }
    return this.#save(path, this.tensors(), this.fileMetadata());
  }

  /** What a saved file records beside the tensors: the recomputed keys and how (recomputed-marks.ts). */
  fileMetadata(): Record<string, string> {
    return recomputedMetadata(this.targets, new Set(this.#tensors.keys()));
  }

  /** The same capture with keys renamed (`layer1` -> `feat`, `layer1:2` -> `feat:2`, `in:layer1#0` -> `in:feat#0`). */
  renamed(rename: (key: string) => string): ActivationCache {
    return new ActivationCache(
      new Map([...this.#tensors].map(([k, t]) => [rename(k), t])),
      this.targets.map((t) => ({ ...t, key: rename(t.key) })),
      this.notObservable.map((u) => ({ ...u, key: rename(u.key) })),
      this.outputs,
      this.#save,
    );
  }

  /** The same capture with every tensor (activations and outputs) passed through `map`. */
  mapped(map: (t: Tensor) => Tensor): ActivationCache {
    const outputs = Object.fromEntries(Object.entries(this.outputs).map(([k, t]) => [k, map(t)]));
    const tensors = new Map([...this.#tensors].map(([k, t]) => [k, map(t)]));
    return new ActivationCache(tensors, this.targets, this.notObservable, outputs, this.#save);
  }

  /** Only the given keys (and their not-observable entries): what a capture asked for. */
  only(keys: ReadonlySet<string>): ActivationCache {
    return new ActivationCache(
      new Map([...this.#tensors].filter(([k]) => keys.has(k))),
      this.targets.filter((t) => keys.has(t.key)),
      this.notObservable.filter((u) => keys.has(u.key) || u.key.startsWith('output:')),
      this.outputs,
      this.#save,
    );
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

  /** How a key's tensor was recomputed from a fused op's inputs (`hidden_states`/`attentions` presets), or undefined when it was read from the graph. */
  recomputed(key: string): string | undefined {
    return this.targets.find((t) => t.key === key)?.recomputed;
  }

  /** Why a module or key has no activation, if it was requested and is not observable. */
  whyNotObservable(key: string): Unobservable | undefined {
    return this.notObservable.find((u) => u.key === key || u.module === key);
  }
}
