/**
 * Turns what a run returned into what forward hooks would have seen. A call site inside an If branch
 * that was not taken did not run: no activation, reported as not called (never an empty tensor).
 * A call site inside a Loop or Scan body ran once per iteration: its stacked tensor is split into
 * one activation per call (`name:1` … `name:k`), or kept stacked with `stackCalls`.
 */
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import { valueContext } from '../graph/rewrite.js';
import type { Runtime, Tensor } from '../runtime/runtime.js';
import type { CaptureTarget, Unobservable } from './select.js';

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
}

export function resolveCalls(
  index: GraphIndex,
  runtime: Runtime,
  targets: readonly CaptureTarget[],
  read: (t: CaptureTarget) => Tensor,
  cond: (value: string) => Tensor | undefined,
  stackCalls: boolean,
): ResolvedCalls {
  const notCalled: Unobservable[] = [];
  const instances: Instance[] = [];
  for (const target of targets) {
    const steps = valueContext(index, target.value);
    if (!ranBranches(index, branchSteps(index, target), cond)) {
      notCalled.push({
        key: target.key,
        module: target.module ?? target.value,
        reason: 'not called in this run: it sits in an If branch that was not taken',
        hint: 'Inputs that turn the branch condition the other way make it run.',
      });
      continue;
    }
    const loops = steps.filter((s) => index.nodes[s.node].opType !== 'If').length;
    const tensor = read(target);
    instances.push({
      target,
      tensors: loops === 0 || stackCalls || !target.module ? [tensor] : splitLeading(runtime, tensor, loops),
    });
  }
  return { ...assignKeys(instances), notCalled };
}

/** Where a target's value lives and where its module's call site sits: both must have run. */
function branchSteps(index: GraphIndex, t: CaptureTarget): readonly ContextStep[] {
  return [...valueContext(index, t.value), ...(t.siteContext ?? [])];
}

function ranBranches(
  index: GraphIndex,
  steps: readonly ContextStep[],
  cond: (value: string) => Tensor | undefined,
): boolean {
  for (const step of steps) {
    const node = index.nodes[step.node];
    if (node.opType !== 'If') continue;
    const c = cond(node.input![0]);
    // A condition inside a loop is per iteration: then the stacked tensor tells.
    if (c?.data.length !== 1) continue;
    if (Boolean(c.data[0]) !== (step.attr === 'then_branch')) return false;
  }
  return true;
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
    // Calls per site, from any one tuple element of the site (they all ran the same number of times).
    const perSite = new Map<number, number>();
    for (const inst of group) perSite.set(inst.target.site, inst.tensors.length);
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
