/**
 * Forward hooks in the PyTorch sense, fired from a capture: `hook(module, inputs, output)` once per
 * call, in execution order. Handles remove themselves with `remove()` or at the end of a `using` block.
 *
 * ```ts
 * { using hook = model.registerForwardHook('fc1', (mod, inputs, output) => console.log(output.dims));
 *   await model.run({ x }); }
 * ```
 */
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';
import type { Tensor } from '../runtime/runtime.js';
import type { ActivationCache } from './activation-cache.js';
import type { CaptureTarget, SelectOptions } from './select.js';

/** A module's output: one tensor, or nested arrays as its Python tuple nests them. */
export type HookOutput = Tensor | HookOutput[];
export interface HookModule extends ModuleInfo {
  /** Which call this is (1-based). */
  readonly call: number;
}
export type ForwardHook = (module: HookModule, inputs: Tensor[], output: HookOutput) => void;
export type ForwardPreHook = (module: HookModule, inputs: Tensor[]) => void;

export interface HookHandle {
  remove(): void;
  [Symbol.dispose](): void;
}

interface Entry {
  module: string;
  kind: 'forward' | 'pre';
  fn: ForwardHook | ForwardPreHook;
}

export class HookRegistry {
  readonly #entries = new Set<Entry>();

  get size(): number {
    return this.#entries.size;
  }

  add(module: string, kind: Entry['kind'], fn: Entry['fn']): HookHandle {
    const entry = { module, kind, fn };
    this.#entries.add(entry);
    const remove = () => void this.#entries.delete(entry);
    return { remove, [Symbol.dispose]: remove };
  }

  captureOptions(): SelectOptions {
    return { layers: [...new Set([...this.#entries].map((e) => e.module))], inputs: true };
  }

  /** Fires the hooks call by call, in the order the calls ran. */
  fire(acts: ActivationCache, map: ModuleMap): void {
    const hooked = new Set([...this.#entries].map((e) => e.module));
    const calls = new Map<string, { info: ModuleInfo; call: number; order: number; inputs: Tensor[]; outputs: CaptureTarget[] }>();
    for (const t of acts.targets) {
      if (!t.module || !hooked.has(t.module)) continue;
      const info = map.get(t.module)!;
      const id = `${t.module}\u0000${t.call}`;
      let entry = calls.get(id);
      if (!entry) {
        entry = { info, call: t.call, order: Math.max(...info.calls[t.site - 1].nodes) + t.call * 1e-6, inputs: [], outputs: [] };
        calls.set(id, entry);
      }
      if (t.kind === 'input') entry.inputs.push(acts.get(t.key)!);
      else entry.outputs.push(t);
    }
    for (const { info, call, inputs, outputs } of [...calls.values()].sort((a, b) => a.order - b.order)) {
      const moduleView: HookModule = { ...info, call };
      const output = nestOutputs(acts, outputs);
      for (const e of this.#entries) {
        if (e.module !== info.name) continue;
        if (e.kind === 'pre') (e.fn as ForwardPreHook)(moduleView, inputs);
        else if (output !== undefined) (e.fn as ForwardHook)(moduleView, inputs, output);
      }
    }
  }
}

/** One tensor, or nested arrays following the targets' tuple suffixes (`#1#0`). */
function nestOutputs(acts: ActivationCache, targets: readonly CaptureTarget[]): HookOutput | undefined {
  if (targets.length === 0) return undefined;
  if (targets.length === 1 && targets[0].tuple === '') return acts.get(targets[0].key)!;
  const root: HookOutput[] = [];
  for (const t of targets) {
    const path = t.tuple.split('#').slice(1).map(Number);
    let level = root;
    for (const p of path.slice(0, -1)) level = (level[p] ??= []) as HookOutput[];
    level[path[path.length - 1]] = acts.get(t.key)!;
  }
  return root;
}
