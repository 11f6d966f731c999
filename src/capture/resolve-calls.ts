/**
 * Turns what a run returned into what forward hooks would have seen. A call site inside an If branch
 * that was not taken did not run: no activation, reported as not called (never an empty tensor).
 * A call site inside a Loop or Scan body ran once per iteration: its stacked tensor is split into
 * one activation per call (`name:1` … `name:k`), or kept stacked with `stackCalls`.
 */
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import { valueContext } from '../graph/rewrite.js';
import { splitRagged } from '../graph/thread-ragged.js';
import type { Runtime, Tensor } from '../runtime/runtime.js';
import type { CaptureTarget, Unobservable } from './select.js';
import { type CondReader, takenIterations, unravel } from './taken-iterations.js';

export interface ResolvedCalls {
  readonly tensors: Map<string, Tensor>;
  readonly targets: CaptureTarget[];
  readonly notCalled: Unobservable[];
}

/** The If conditions deciding whether values at these targets were computed. */
export function branchConditions(index: GraphIndex, targets: readonly CaptureTarget[]): string[] {
  const conds = new Set<string>();
  for (const t of targets)
    for (const step of branchSteps(index, t))
      if (index.nodes[step.node].opType === 'If') conds.add(index.nodes[step.node].input![0]);
  return [...conds];
}

interface Instance {
  target: CaptureTarget;
  tensors: Tensor[];
  /**
   * Per tensor, where it ran when known: each Loop around it (outermost first) as its node index
   * and the iteration, interleaved (`[loop, i, innerLoop, j]`); [] outside loops.
   */
  paths?: number[][];
}

/** What a capture of a value in an If inside a Loop returned: the taken iterations' records. */
export type RaggedReader = (t: CaptureTarget) => { meta: Tensor; loops: number } | undefined;

export function resolveCalls(
  index: GraphIndex,
  runtime: Runtime,
  targets: readonly CaptureTarget[],
  read: (t: CaptureTarget) => Tensor,
  cond: CondReader,
  stackCalls: boolean,
  ragged: RaggedReader = () => undefined,
): ResolvedCalls {
  const notCalled: Unobservable[] = [];
  const instances: Instance[] = [];
  const invariant: Instance[] = [];
  const notTaken = (target: CaptureTarget, where: string) =>
    notCalled.push({
      key: target.key,
      module: target.module ?? target.value,
      reason: `not called in this run: it sits in an If branch that was not taken${where}`,
      hint: 'Inputs that turn the branch condition the other way make it run.',
    });
  for (const target of targets) {
    const steps = valueContext(index, target.value);
    if (!ranBranches(index, branchSteps(index, target), cond)) {
      notTaken(target, '');
      continue;
    }
    const loopNodes = steps.filter((s) => index.nodes[s.node].opType !== 'If').map((s) => s.node);
    const pathOf = (it: readonly number[]) =>
      loopNodes.slice(-it.length || loopNodes.length).flatMap((l, d) => [l, it[d]]);
    const records = ragged(target);
    if (records) {
      const taken = raggedTensors(runtime, read(target), records.meta, records.loops);
      if (taken.length === 0) notTaken(target, ' in any iteration of its loop');
      else {
        const paths = taken.map((r) => pathOf(r.iterations));
        instances.push({ target, tensors: taken.map((r) => r.tensor), paths });
      }
      continue;
    }
    const loops = steps.filter((s) => index.nodes[s.node].opType !== 'If').length;
    const tensor = read(target);
    const siteLoops = (target.siteContext ?? []).filter((s) => index.nodes[s.node].opType !== 'If').length;
    if (target.module && !stackCalls && loops < siteLoops) {
      // Computed before a loop its call sits in: the same value for every iteration's call.
      const calls = loops ? splitLeading(runtime, tensor, loops) : [tensor];
      const dims = tensor.dims.slice(0, loops);
      invariant.push({ target, tensors: calls, paths: calls.map((_, i) => pathOf(unravel(i, dims))) });
      continue;
    }
    if (loops === 0 || stackCalls || !target.module) {
      instances.push({ target, tensors: [tensor], ...(loops === 0 ? { paths: [[]] } : {}) });
      continue;
    }
    const calls = splitLeading(runtime, tensor, loops);
    // A call site in an If inside the loops ran only in the iterations where its conditions held.
    const loopDims = tensor.dims.slice(0, loops);
    const ran = takenIterations(index, target.siteContext ?? [], steps, loopDims, cond);
    const flat = (it: readonly number[]) => it.reduce((f, i, d) => f * loopDims[d] + i, 0);
    if (!ran) instances.push({ target, tensors: calls });
    else if (ran.length === 0) notTaken(target, ' in any iteration of its loop');
    else instances.push({ target, tensors: ran.map((it) => calls[flat(it)]), paths: ran.map(pathOf) });
  }
  const unknown = invariant.filter((inv) => !repeatPerCall(inv, instances));
  for (const inv of unknown)
    notCalled.push({
      key: inv.target.key,
      module: inv.target.module!,
      reason:
        'cannot be numbered: it is computed before the loop its call sits in, and no value of the same call in this capture tells in which iterations the call ran',
      hint: "Capture the module's output too (its calls are numbered from it).",
    });
  return { ...assignKeys(instances), notCalled };
}

/**
 * A loop-invariant value (computed outside a loop its call sits in) repeated for every call of its
 * site that another target of the same site ran (the site's output, or an input computed in the
 * loop): each gets the value of its outer iterations. False when no such target is captured.
 */
function repeatPerCall(inv: Instance, instances: Instance[]): boolean {
  const { module, site } = inv.target;
  const depth = inv.paths![0].length;
  const calls = new Map<string, number[]>();
  for (const other of instances)
    if (other.target.module === module && other.target.site === site && other.paths)
      for (const p of other.paths) if (p.length > depth) calls.set(p.join(','), p);
  if (calls.size === 0) return false;
  const own = new Map(inv.paths!.map((p, i) => [p.join(','), inv.tensors[i]]));
  const paths = [...calls.values()];
  const tensors = paths.map((p) => own.get(p.slice(0, depth).join(',')));
  if (tensors.some((t) => t === undefined)) return false;
  instances.push({ target: inv.target, tensors: tensors as Tensor[], paths });
  return true;
}

/** Where a target's value lives and where its module's call site sits: both must have run. */
function branchSteps(index: GraphIndex, t: CaptureTarget): readonly ContextStep[] {
  return [...valueContext(index, t.value), ...(t.siteContext ?? [])];
}

function ranBranches(index: GraphIndex, steps: readonly ContextStep[], cond: CondReader): boolean {
  for (const step of steps) {
    const node = index.nodes[step.node];
    if (node.opType !== 'If') continue;
    // A condition inside a loop is per iteration: then the stacked tensor tells.
    if (index.context[step.node].some((s) => index.nodes[s.node].opType !== 'If')) continue;
    const c = cond(node.input![0]);
    if (c?.data.length !== 1) continue;
    if (Boolean(c.data[0]) !== (step.attr === 'then_branch')) return false;
  }
  return true;
}

/** One tensor per iteration that computed the value, from the flat data and its records. */
function raggedTensors(runtime: Runtime, data: Tensor, meta: Tensor, loops: number) {
  const values = data.data as Float32Array;
  return splitRagged(meta, loops, (offset, dims) => {
    const size = dims.reduce((a, b) => a * b, 1);
    return new runtime.Tensor(data.type, values.subarray(offset, offset + size), dims);
  });
}

/** Splits the leading `axes` axes (one per enclosing loop) into one tensor per call. */
function splitLeading(runtime: Runtime, t: Tensor, axes: number): Tensor[] {
  const dims = t.dims.slice(axes);
  const calls = t.dims.slice(0, axes).reduce((a, b) => a * b, 1);
  const size = dims.reduce((a, b) => a * b, 1);
  const data = t.data as Float32Array;
  return Array.from(
    { length: calls },
    (_, i) => new runtime.Tensor(t.type, data.subarray(i * size, (i + 1) * size), dims),
  );
}

/** Numbers the calls that ran, per module, in site order: `name` alone, or `name:k`. */
function assignKeys(instances: readonly Instance[]): { tensors: Map<string, Tensor>; targets: CaptureTarget[] } {
  const tensors = new Map<string, Tensor>();
  const targets: CaptureTarget[] = [];
  const groups = new Map<string, Instance[]>();
  for (const inst of instances) {
    const t = inst.target;
    if (!t.module) {
      tensors.set(t.key, inst.tensors[0]);
      targets.push(t);
      continue;
    }
    // Inputs and outputs of a module share one numbering: a call whose input is not observable
    // still counts for the numbers of the calls after it.
    const group = t.module;
    (groups.get(group) ?? groups.set(group, []).get(group)!).push(inst);
  }
  for (const group of groups.values()) {
    if (byIterations(group, tensors, targets)) continue;
    // Calls per site, from any one tuple element of the site (they all ran the same number of times).
    const perSite = new Map<number, number>();
    for (const inst of group) perSite.set(inst.target.site, inst.tensors.length);
    // A site that always runs counts even where this capture reports it.
    for (const site of group[0].target.alwaysSites ?? []) if (!perSite.has(site)) perSite.set(site, 1);
    const sites = [...perSite.keys()].sort((a, b) => a - b);
    const total = sites.reduce((n, s) => n + perSite.get(s)!, 0);
    const firstCall = new Map<number, number>();
    sites.reduce((next, s) => (firstCall.set(s, next), next + perSite.get(s)!), 1);
    for (const inst of group) {
      const t = inst.target;
      inst.tensors.forEach((tensor, i) => {
        const call = firstCall.get(t.site)! + i;
        const base = total === 1 ? t.module! : `${t.module}:${call}`;
        const key = `${t.kind === 'input' ? 'in:' : ''}${base}${t.tuple}`;
        tensors.set(key, tensor);
        targets.push({ ...t, key, call });
      });
    }
  }
  return { tensors, targets };
}

/**
 * A module with calls in loops, whose every call's place is known (its loops' iterations and its
 * site's first node), is numbered as PyTorch counts its calls: in execution order, which is the
 * order of `[loop, iteration, …, site position]` (a Loop node's index comes after its body's nodes
 * and before the nodes after it, so a call inside an inner loop sorts between the calls around it).
 */
function byIterations(group: readonly Instance[], tensors: Map<string, Tensor>, targets: CaptureTarget[]): boolean {
  const positions = group[0].target.sitePositions;
  if (!positions || !group.every((g) => g.paths) || !group.some((g) => g.paths!.some((p) => p.length > 0)))
    return false;
  const place = (site: number, path: readonly number[]) => [...path, positions[site - 1] ?? -1];
  const sites = [...group.map((g) => g.target.site), ...(group[0].target.alwaysSites ?? [])];
  if (sites.some((site) => (positions[site - 1] ?? -1) < 0)) return false;
  const events = new Map<string, number[]>();
  const id = (site: number, path: readonly number[]) => `${site}@${path.join(',')}`;
  for (const inst of group)
    for (const p of inst.paths!) events.set(id(inst.target.site, p), place(inst.target.site, p));
  // A site that always runs counts even where this capture reports it.
  for (const site of group[0].target.alwaysSites ?? [])
    if (!events.has(id(site, []))) events.set(id(site, []), place(site, []));
  const order = [...events.entries()].sort(([, a], [, b]) => compareTuples(a, b)).map(([k]) => k);
  const callOf = new Map(order.map((k, i) => [k, i + 1]));
  for (const inst of group) {
    const t = inst.target;
    inst.tensors.forEach((tensor, i) => {
      const call = callOf.get(id(t.site, inst.paths![i]))!;
      const base = order.length === 1 ? t.module! : `${t.module}:${call}`;
      const key = `${t.kind === 'input' ? 'in:' : ''}${base}${t.tuple}`;
      tensors.set(key, tensor);
      targets.push({ ...t, key, call });
    });
  }
  return true;
}

function compareTuples(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
