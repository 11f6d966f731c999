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

  /**
   * Fires the hooks in the order PyTorch would: a call's pre-hooks when it starts (outer modules
   * first), its forward hooks when it ends (inner modules first), calls in execution order.
   */
  fire(acts: ActivationCache, map: ModuleMap): void {
    const hooked = new Set([...this.#entries].map((e) => e.module));
    const calls = new Map<string, CallRecord>();
    for (const t of acts.targets) {
      if (!t.module || !hooked.has(t.module)) continue;
      const id = `${t.module}\u0000${t.call}`;
      const entry = calls.get(id) ?? calls.set(id, callRecord(map, t)).get(id)!;
      if (t.kind === 'input') entry.inputs.push(acts.get(t.key)!);
      else entry.outputs.push(t);
    }
    const events = [...calls.values()].flatMap((c) => [
      { c, kind: 'pre' as const, at: [c.start, c.depth, c.call] },
      { c, kind: 'forward' as const, at: [c.end, -c.depth, c.call] },
    ]);
    events.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.at[2] - b.at[2] || (a.kind === 'pre' ? -1 : 1));
    for (const { c, kind } of events) {
      const moduleView: HookModule = { ...c.info, call: c.call };
      const output = kind === 'forward' ? nestOutputs(acts, c.outputs) : undefined;
      for (const e of this.#entries) {
        if (e.module !== c.info.name || e.kind !== kind) continue;
        if (kind === 'pre') (e.fn as ForwardPreHook)(moduleView, c.inputs);
        else if (output !== undefined) (e.fn as ForwardHook)(moduleView, c.inputs, output);
      }
    }
  }
}

interface CallRecord {
  info: ModuleInfo;
  call: number;
  /** First and last node of the call site, and how deep the module is: where its hooks fire. */
  start: number;
  end: number;
  depth: number;
  inputs: Tensor[];
  outputs: CaptureTarget[];
}

function callRecord(map: ModuleMap, t: CaptureTarget): CallRecord {
  const info = map.get(t.module!)!;
  const nodes = info.calls[t.site - 1].nodes;
  let depth = 0;
  for (let p = info.parent; p !== undefined; p = map.get(p)?.parent) depth++;
  return { info, call: t.call, start: Math.min(...nodes), end: Math.max(...nodes), depth, inputs: [], outputs: [] };
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
