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
import type { SelectOptions } from './select.js';

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
    const calls: { info: ModuleInfo; call: number; order: number }[] = [];
    for (const name of new Set([...this.#entries].map((e) => e.module))) {
      const info = map.get(name)!;
      for (const c of info.calls) calls.push({ info, call: c.index, order: Math.max(...c.nodes) });
    }
    calls.sort((a, b) => a.order - b.order);
    for (const { info, call } of calls) {
      const moduleView: HookModule = { ...info, call };
      const inputs = acts.targets.filter((t) => t.kind === 'input' && t.module === info.name && t.call === call).map((t) => acts.get(t.key)!);
      const output = nestOutputs(acts, info, call);
      for (const e of this.#entries) {
        if (e.module !== info.name) continue;
        if (e.kind === 'pre') (e.fn as ForwardPreHook)(moduleView, inputs);
        else if (output !== undefined) (e.fn as ForwardHook)(moduleView, inputs, output);
      }
    }
  }
}

function nestOutputs(acts: ActivationCache, info: ModuleInfo, call: number): HookOutput | undefined {
  const c = info.calls[call - 1];
  const targets = acts.targets.filter((t) => t.kind === 'output' && t.module === info.name && t.call === call);
  if (targets.length === 0) return undefined;
  if (c.outputs.length === 1) return acts.get(targets[0].key)!;
  const root: HookOutput[] = [];
  c.outputPaths.forEach((path, i) => {
    let level = root;
    for (const p of path.slice(0, -1)) level = (level[p] ??= []) as HookOutput[];
    level[path[path.length - 1]] = acts.get(targets[i].key)!;
  });
  return root;
}
