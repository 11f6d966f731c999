/**
 * Calls whose number or extent the TorchScript exporter loses (issue 9, pattern 6). Measured with
 * torch 1.13:
 * - only a node's innermost scope is numbered per call: the children of a module's second call are
 *   `/block/lin_1`, `/block/act_1` (never `/block_1/lin`), and only the module's own nodes say
 *   `/block_1/Add`. The children's keys are right (`block.lin:2`), but which of the parent's calls
 *   each child call belongs to is recorded only by where it sits between the parent's own nodes;
 * - identical calls (same module, same input) are merged by its common-subexpression pass before
 *   scopes are numbered, so later calls shift (`lin_1` is then PyTorch's call 3). The one trace it
 *   can leave is a node reading the merged value twice (`a * b` of `a = lin(x); b = lin(x)`).
 * Such modules and calls are reported, never returned under a number that may be PyTorch's other call.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';
import type { ScopeStep } from './scopes.js';

const HINT_PARENT =
  'Capture its children (their calls are numbered right) or its own values with the "values" preset; or call the module once per forward before export.';
const HINT_MERGED =
  'Avoid calling a module twice on the same input before export (reuse the first result), or compare call counts with PyTorch.';

export function markMergedCalls(
  index: GraphIndex,
  modules: ReadonlyMap<string, ModuleInfo>,
  paths: readonly ScopeStep[][],
): void {
  for (const info of modules.values()) {
    if (info.notObservable || info.children.length === 0) continue;
    const reason = parentCallsUnknown(index, info, modules, paths);
    if (reason) info.notObservable = { reason, hint: HINT_PARENT };
  }
  for (const info of modules.values()) {
    if (info.notObservable) continue;
    info.calls.forEach((call, i) => {
      const reader = readTwice(index, call);
      if (reader !== undefined) markShiftedCalls(index, info, i, reader, modules);
    });
  }
}

/** Why a parent's calls cannot be told apart, or undefined when its children sit in its one call. */
function parentCallsUnknown(
  index: GraphIndex,
  info: ModuleInfo,
  modules: ReadonlyMap<string, ModuleInfo>,
  paths: readonly ScopeStep[][],
): string | undefined {
  const own = (n: number) => paths[n].at(-1)?.module === info.name && index.nodes[n].opType !== 'Constant';
  const first = info.calls[0];
  const ownNodes = first.nodes.filter(own);
  if (info.calls.length === 1) {
    if (ownNodes.length > 0) return undefined;
    const repeated = info.children.find((c) => (modules.get(c)?.calls.length ?? 0) > 1);
    if (repeated === undefined) return undefined;
    return `ambiguous: it has no node of its own and its child '${repeated}' is called ${modules.get(repeated)!.calls.length} times; the exporter numbers only the innermost scope of a node, so the graph cannot tell whether it ran once calling '${repeated}' repeatedly or once per call of '${repeated}'`;
  }
  // Children grouped per call (inlined local functions name each call's nodes apart) are no sign.
  const ownOnly = (c: ModuleCall) => c.nodes.every((n) => own(n) || index.nodes[n].opType === 'Constant');
  if (ownNodes.length === 0 || !info.calls.slice(1).every(ownOnly)) return undefined;
  const [lo, hi] = [ownNodes[0], ownNodes.at(-1)!];
  const outside = first.nodes.filter((n) => !own(n) && index.nodes[n].opType !== 'Constant' && (n < lo || n > hi));
  if (outside.length === 0) return undefined;
  const node = index.nodes[outside[0]].name ?? `#${outside[0]}`;
  return `its ${info.calls.length} calls cannot be told apart: the exporter names the children of every call under its first call's scope ('${node}'), and their nodes lie between its calls' own nodes, so which call each child call belongs to (what each call received and returned) is not recorded`;
}

/** A node reading one of the call's outputs in two of its inputs, where merged identical calls would meet. */
function readTwice(index: GraphIndex, call: ModuleCall): number | undefined {
  for (const value of call.outputs)
    for (const reader of index.consumers.get(value) ?? [])
      if ((index.nodes[reader].input ?? []).filter((v) => v === value).length > 1) return reader;
  return undefined;
}

/** The calls after `at` (of the module and of its descendants) may be numbered one below PyTorch's. */
function markShiftedCalls(
  index: GraphIndex,
  info: ModuleInfo,
  at: number,
  reader: number,
  modules: ReadonlyMap<string, ModuleInfo>,
): void {
  const call = info.calls[at];
  const name = index.nodes[reader].name ?? `#${reader}`;
  const merged = `'${name}' reads this module's call ${call.index} output twice, as it would read two identical calls (same module, same input) that the exporter's common-subexpression pass merged`;
  if (info.calls.length === 1) {
    const twice = (m: ModuleInfo) => `${m.name}:1 and ${m.name}:2`;
    info.notObservable = {
      reason: `ambiguous: ${merged}; PyTorch may then have called it twice, with keys ${twice(info)}`,
      hint: HINT_MERGED,
    };
    // A descendant called once in the merged call may have run once in each of PyTorch's calls.
    for (const d of descendants(info, modules))
      if (d.calls.length === 1 && !d.notObservable)
        d.notObservable = {
          reason: `ambiguous: its parent '${info.name}' may be two calls merged into one (${merged}), so it may have run twice too, with keys ${twice(d)}`,
          hint: HINT_MERGED,
        };
    return;
  }
  const reason = `ambiguous call number: ${merged}, so this and later calls may be PyTorch's next ones`;
  const before = new Set(info.calls.slice(0, at + 1).flatMap((c) => c.nodes));
  for (const m of [info, ...descendants(info, modules)]) {
    m.calls.forEach((c, i) => {
      if (m === info ? i > at : !c.nodes.every((n) => before.has(n))) m.calls[i] = unobservableCall(c, reason);
    });
  }
}

function descendants(info: ModuleInfo, modules: ReadonlyMap<string, ModuleInfo>): ModuleInfo[] {
  return info.children.flatMap((c) => {
    const child = modules.get(c);
    return child ? [child, ...descendants(child, modules)] : [];
  });
}

/** The call kept (for call counts and order) with its output and inputs reported. */
function unobservableCall(call: ModuleCall, reason: string): ModuleCall {
  return {
    ...call,
    outputs: [],
    outputPaths: [],
    unobservableOutputs: [{ path: [], reason }],
    opaqueInputs: [...call.inputs],
    opaqueReasons: new Map(call.inputs.map((v) => [v, reason])),
  };
}
