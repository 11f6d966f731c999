/**
 * Forward hooks in the PyTorch sense, fired from a capture: `hook(module, inputs, output)` once per
 * call, in execution order. Handles remove themselves with `remove()` or at the end of a `using` block.
 * A forward hook that returns a tensor replaces the module's output (src/capture/cut-run.ts cuts the
 * graph there). A hook may return a promise: it is awaited before the next hook fires, and its rejection rejects
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
import type { EditCallback, EditTensor } from './edit-ops.js';
import { isGlob } from './glob.js';
import { type CaptureTarget, type SelectOptions, selectTargets } from './select.js';

/** A module's output: one tensor, or nested arrays as its Python tuple nests them. */
export type HookOutput = Tensor | HookOutput[];
export interface HookModule extends ModuleInfo {
  /** Which call this is (1-based). */
  readonly call: number;
}
/**
 * A forward hook returning a tensor (or a promise of one) replaces the output, as in PyTorch, where
 * the graph can be cut there; any other return value is ignored (a promise is awaited first).
 */
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
  begin(): HookRun {
    const entries = [...this.#entries];
    const modules = [...new Set(entries.map((e) => e.module))];
    return {
      options: { layers: modules, inputs: true },
      fire: (acts, map) => this.#fire(entries, acts, map),
      live: (targets, map, topLevel) => this.#live(entries, targets, map, topLevel),
    };
  }

  /**
   * Fires the hooks in the order PyTorch would: a call's pre-hooks when it starts (outer modules
   * first), its forward hooks when it ends (inner modules first), calls in execution order.
   */
  async #fire(entries: readonly Entry[], acts: ActivationCache, map: ModuleMap): Promise<void> {
    const read = (t: CaptureTarget) => acts.get(t.key)!;
    for (const event of events(entries, acts.targets, map)) {
      const output = event.kind === 'forward' ? nestOutputs(read, event.c.outputs) : undefined;
      if ((await this.#fireEvent(entries, event, read, output)) !== output) {
        throw new NeurotapError(
          'E_BAD_ARGUMENT',
          `The forward hook on '${event.c.info.name}' returned a tensor, but this output cannot be replaced (a tuple, or a value inside an If branch or a Loop body).`,
          { hint: 'Edit it declaratively: capture(feeds, { edit: { key: zero() | scale() | add() | ... } }).' },
        );
      }
    }
  }

  /**
   * Hooks that may replace outputs: when every hooked call is a top-level single-tensor call, the
   * forward hooks become callback edits (the graph is cut at each) and every hook fires in
   * PyTorch's order as the run reaches it; `finish` fires what comes after the last cut.
   */
  #live(
    entries: readonly Entry[],
    targets: readonly CaptureTarget[],
    map: ModuleMap,
    topLevel: (t: CaptureTarget) => boolean,
  ): LiveHooks | undefined {
    const list = events(entries, targets, map);
    const hasForward = (name: string) => entries.some((e) => e.module === name && e.kind === 'forward');
    const forward = list.filter((e) => e.kind === 'forward' && hasForward(e.c.info.name));
    if (forward.length === 0 || !targets.every(topLevel)) return undefined;
    if (forward.some((e) => e.c.outputs.length !== 1 || e.c.outputs[0].tuple !== '')) return undefined;
    // Forward-hooked calls fire in their own callbacks; everything else fires when the run gets there.
    const fired = new Set<number>();
    const own = new Set(forward.map((e) => list.indexOf(e)));
    const fireUntil = async (stop: number, read: (t: CaptureTarget) => Tensor) => {
      for (let i = 0; i < stop; i++) {
        if (fired.has(i) || own.has(i)) continue;
        fired.add(i);
        const e = list[i];
        await this.#fireEvent(entries, e, read, e.kind === 'forward' ? nestOutputs(read, e.c.outputs) : undefined);
      }
    };
    const edit: Record<string, EditCallback> = {};
    for (const e of forward) {
      const at = list.indexOf(e);
      const callback = async (output: Tensor, call: Parameters<EditCallback>[1]) => {
        const read = (t: CaptureTarget) => call.read(t.value)!;
        await fireUntil(at, read);
        fired.add(at);
        const result = await this.#fireEvent(entries, e, read, output);
        return result === output ? undefined : (result as EditTensor);
      };
      // The inputs of every hook fired up to this one: the segment before the cut computes them.
      const reads = list.slice(0, at + 1).flatMap((x) => x.c.inputs.map((t) => t.value));
      edit[e.c.outputs[0].key] = Object.assign(callback, { reads });
    }
    return { edit, finish: (acts) => fireUntil(list.length, (t) => acts.get(t.key)!) };
  }

  /** Calls the event's hooks; forward hooks chain as in PyTorch (a returned tensor is what the next one sees). */
  async #fireEvent(
    entries: readonly Entry[],
    { c, kind }: HookEvent,
    read: (t: CaptureTarget) => Tensor,
    output: HookOutput | undefined,
  ): Promise<HookOutput | undefined> {
    const moduleView: HookModule = { ...c.info, call: c.call };
    const inputs = c.inputs.map(read);
    let result = output;
    for (const e of entries) {
      // A hook removed by an earlier hook of this run no longer fires, as in PyTorch.
      if (e.module !== c.info.name || e.kind !== kind || !this.#entries.has(e)) continue;
      if (kind === 'pre') await (e.fn as ForwardPreHook)(moduleView, inputs);
      else if (result !== undefined) {
        const returned = await (e.fn as ForwardHook)(moduleView, inputs, result);
        // A tensor (or tuple) replaces the output; other values (`arr.push(...)` in an arrow) do not.
        if (isTensorLike(returned)) result = returned as HookOutput;
      }
    }
    return result;
  }
}

export interface HookRun {
  options: SelectOptions;
  fire(acts: ActivationCache, map: ModuleMap): Promise<void>;
  /** The forward hooks as callback edits, when every hooked call can be cut (see `#live`). */
  live(
    targets: readonly CaptureTarget[],
    map: ModuleMap,
    topLevel: (t: CaptureTarget) => boolean,
  ): LiveHooks | undefined;
}

export interface LiveHooks {
  edit: Record<string, EditCallback>;
  finish(acts: ActivationCache): Promise<void>;
}

interface HookEvent {
  readonly c: CallRecord;
  readonly kind: 'pre' | 'forward';
}

/** The hook events of these targets in PyTorch's order. */
function events(entries: readonly Entry[], targets: readonly CaptureTarget[], map: ModuleMap): HookEvent[] {
  const hooked = new Set(entries.map((e) => e.module));
  const calls = new Map<string, CallRecord>();
  for (const t of targets) {
    if (!t.module || !hooked.has(t.module)) continue;
    const id = `${t.module}\u0000${t.call}`;
    const entry = calls.get(id) ?? calls.set(id, callRecord(map, t)).get(id)!;
    if (t.kind === 'input') entry.inputs.push(t);
    else entry.outputs.push(t);
  }
  const list = [...calls.values()].flatMap((c) => [
    { c, kind: 'pre' as const, at: [c.start, c.depth, c.call] },
    { c, kind: 'forward' as const, at: [c.end, -c.depth, c.call] },
  ]);
  list.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1] || a.at[2] - b.at[2] || (a.kind === 'pre' ? -1 : 1));
  return list;
}

function isTensorLike(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (Array.isArray(value) || ('dims' in value && 'data' in value));
}

interface CallRecord {
  info: ModuleInfo;
  call: number;
  /** First and last node of the call site, and how deep the module is: where its hooks fire. */
  start: number;
  end: number;
  depth: number;
  inputs: CaptureTarget[];
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
function nestOutputs(read: (t: CaptureTarget) => Tensor, targets: readonly CaptureTarget[]): HookOutput | undefined {
  if (targets.length === 0) return undefined;
  if (targets.length === 1 && targets[0].tuple === '') return read(targets[0]);
  const root: HookOutput[] = [];
  for (const t of targets) {
    const path = t.tuple.split('#').slice(1).map(Number);
    let level = root;
    for (const p of path.slice(0, -1)) level = (level[p] ??= []) as HookOutput[];
    level[path[path.length - 1]] = read(t);
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
  return ['leaves', 'modules', 'values', 'hidden_states', 'attentions'].includes(name);
}

function describe(name: unknown): string {
  if (typeof name !== 'string') return `a ${name instanceof RegExp ? 'RegExp' : typeof name}`;
  if (isPreset(name)) return `the preset '${name}'`;
  return isGlob(name) ? `the pattern '${name}'` : `the list '${name}'`;
}
