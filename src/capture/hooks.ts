/**
 * Forward hooks in the PyTorch sense, fired from a capture: `hook(module, inputs, output)` once per
 * call, in execution order. Handles remove themselves with `remove()` or at the end of a `using` block.
 * A hook may return a promise: it is awaited before the next hook fires, and its rejection rejects
 * `run`. A hook registered while a run fires its hooks first fires in the next run (the capture of
 * this run was planned without it), so hooks that register hooks cannot loop.
 *
 * ```ts
 * { using hook = model.registerForwardHook('fc1', (mod, inputs, output) => console.log(output.dims));
 *   await model.run({ x }); }
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';
import type { Tensor } from '../runtime/runtime.js';
import type { ActivationCache } from './activation-cache.js';
import { isGlob } from './glob.js';
import { type CaptureTarget, type SelectOptions, selectTargets } from './select.js';

/** A module's output: one tensor, or nested arrays as its Python tuple nests them. */
export type HookOutput = Tensor | HookOutput[];
export interface HookModule extends ModuleInfo {
  /** Which call this is (1-based). */
  readonly call: number;
}
/** What a hook returns is ignored, except that a promise is awaited before the next hook fires. */
export type ForwardHook = (module: HookModule, inputs: Tensor[], output: HookOutput) => unknown;
export type ForwardPreHook = (module: HookModule, inputs: Tensor[]) => unknown;

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

  /**
   * The hooks registered now, for one run: what the capture must return for them, and firing
   * them. A hook registered after this fires in the next run (this run's capture never saw it).
   */
  begin(): { options: SelectOptions; fire(acts: ActivationCache, map: ModuleMap): Promise<void> } {
    const entries = [...this.#entries];
    const modules = [...new Set(entries.map((e) => e.module))];
    return { options: { layers: modules, inputs: true }, fire: (acts, map) => this.#fire(entries, acts, map) };
  }

  /**
   * Fires the hooks in the order PyTorch would: a call's pre-hooks when it starts (outer modules
   * first), its forward hooks when it ends (inner modules first), calls in execution order.
   */
  async #fire(entries: readonly Entry[], acts: ActivationCache, map: ModuleMap): Promise<void> {
    const hooked = new Set(entries.map((e) => e.module));
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
      for (const e of entries) {
        // A hook removed by an earlier hook of this run no longer fires, as in PyTorch.
        if (e.module !== c.info.name || e.kind !== kind || !this.#entries.has(e)) continue;
        if (kind === 'pre') await (e.fn as ForwardPreHook)(moduleView, c.inputs);
        else if (output !== undefined) await (e.fn as ForwardHook)(moduleView, c.inputs, output);
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

/**
 * Hooks attach to one module by its exact name, and only where the export kept what the hook
 * would see: a forward hook needs every call's output, a pre-hook every call's inputs. Anything
 * else would fire fewer times than PyTorch, or never, without saying so.
 */
export function checkHookTarget(map: ModuleMap, index: GraphIndex, name: string, kind: Entry['kind']): void {
  const register = kind === 'pre' ? 'registerForwardPreHook' : 'registerForwardHook';
  if (typeof name !== 'string' || (!map.get(name) && (isGlob(name) || name.includes(',') || isPreset(name))))
    throw new NeurotapError('E_BAD_ARGUMENT', `${register} takes one module name; got ${describe(name)}.`, {
      hint: `Register one hook per module: for (const m of model.modules()) if (m.name.startsWith('layer1.')) model.${register}(m.name, hook).`,
    });
  selectTargets(map, index, { layers: [name] }); // an unknown name: E_UNKNOWN_LAYER with the nearest names
  const info = map.get(name);
  if (!info)
    throw new NeurotapError('E_UNKNOWN_LAYER', `Hooks attach to modules, and '${name}' is a graph value.`, {
      hint: 'Use capture({ layers: [name] }) for values.',
    });
  // A module reported as a whole (its output missing) has no inputs captured either.
  const needed = (key: string) =>
    kind === 'pre' ? key.startsWith('in:') || !!info.notObservable : !key.startsWith('in:');
  const missing = selectTargets(map, index, { layers: [name], inputs: kind === 'pre' }).notObservable.filter(
    (u) => u.module === name && needed(u.key),
  );
  if (missing.length)
    throw new NeurotapError(
      'E_NOT_OBSERVABLE',
      `A ${kind === 'pre' ? 'pre-hook' : 'forward hook'} on '${name}' would not see ${missing.map((u) => `'${u.key}'`).join(', ')}: ${missing[0].reason}.`,
      { hint: missing[0].hint, details: { notObservable: missing } },
    );
}

function isPreset(name: string): boolean {
  return name === 'leaves' || name === 'modules' || name === 'values';
}

function describe(name: unknown): string {
  if (typeof name !== 'string') return `a ${name instanceof RegExp ? 'RegExp' : typeof name}`;
  if (isPreset(name)) return `the preset '${name}'`;
  return isGlob(name) ? `the pattern '${name}'` : `the list '${name}'`;
}
