/**
 * Modules the graph proves exist but that left no node, so no hook output can be read from it:
 * - a gap in numbered siblings (`0`, `3` ran, so `1` and `2` exist: a Dropout or Identity in eval,
 *   which the exporter drops, a BatchNorm folded into the Conv before it, or a child whose result
 *   was unused);
 * - a module owning named parameters that no node is scoped to (its weights read by another
 *   module's nodes, or its scope lost).
 * They are listed, each with the reason, so a capture says "no trace in the graph" instead of nothing.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo } from './module-map.js';
import { foldedModuleOutputs } from './fused-scopes.js';
import { parameterOwner, type ScopeSource } from './scopes.js';

export const NO_TRACE = 'no trace in the graph';
const GAP_NO_NODE = `${NO_TRACE}: its numbered siblings ran, so it exists, but it left no node (a Dropout or Identity in eval, which the exporter removes, a BatchNorm folded into the Conv before it, or a module whose result is unused)`;
const GAP_PARAMETER_NAMES = `${NO_TRACE}: its numbered siblings ran, so it exists, but no node of the export is named after it (names here come from parameter names, and it has none, or it leaves no node in eval like Dropout): any nodes it has count as its parent's`;

/** Modules named from the parameters their calls read (inlined local functions): a gap may be a parameterless child. */
export function gapsNamedByParameters(modules: readonly ModuleInfo[]): void {
  for (const m of modules)
    if (m.notObservable?.reason === GAP_NO_NODE) m.notObservable = { ...m.notObservable, reason: GAP_PARAMETER_NAMES };
}

/**
 * Where names come from parameter names (no scopes, or dynamo branches without metadata), a gap may
 * also be a parameterless child (a ReLU) whose nodes joined its parent: the reason says so.
 */
export function untracedModules(
  index: GraphIndex,
  modules: ReadonlyMap<string, ModuleInfo>,
  source: ScopeSource,
): ModuleInfo[] {
  const found = new Map<string, string>();
  const gapReason = source === 'torchscript-names' ? GAP_NO_NODE : GAP_PARAMETER_NAMES;
  for (const name of numberedGaps(modules.keys())) found.set(name, gapReason);
  for (const name of index.initializers) {
    const owner = parameterOwner(name);
    if (owner === undefined || modules.has(owner) || found.has(owner)) continue;
    found.set(
      owner,
      `${NO_TRACE}: the model holds its parameter '${name}', but no node carries its name (its weights are read by another module, or the export lost its scope)`,
    );
  }
  // Where no module call was found at all (scopeless names), parameter paths also name the
  // containers of those modules (`trunk` of `trunk.0.weight`) and the numbered gaps between them
  // (`trunk.1`): they exist, with no trace either. (Elsewhere a container no scope names is often a
  // ModuleList, which is never called.)
  const unscoped = modules.size === 0 ? [...found.keys()] : [];
  for (const name of numberedGaps([...modules.keys(), ...unscoped]))
    if (!modules.has(name) && !found.has(name)) found.set(name, GAP_PARAMETER_NAMES);
  for (const name of unscoped)
    for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
      const container = name.slice(0, dot);
      if (modules.has(container) || found.has(container)) continue;
      found.set(
        container,
        `${NO_TRACE}: the model's parameters name '${name}' inside it, so it exists, but no node carries its name (the export lost its scope, or other modules' nodes do its work)`,
      );
    }
  for (const [owner, constant] of foldedModuleOutputs(index))
    if (!modules.has(owner) && !found.has(owner))
      found.set(
        owner,
        `${NO_TRACE}: an optimiser folded its output into the constant '${constant}' (it does not depend on the model's inputs)`,
      );
  return [...found].map(([name, reason]) => untraced(name, reason, modules));
}

/** A module listed with the reason it left nothing to capture (no calls). */
export function untraced(
  name: string,
  reason: string,
  modules: ReadonlyMap<string, ModuleInfo>,
  hint = 'Nothing to capture: in eval the module passes its input through (or was never computed); capture its neighbours.',
): ModuleInfo {
  const dot = name.lastIndexOf('.');
  const parent = dot > 0 && modules.has(name.slice(0, dot)) ? name.slice(0, dot) : undefined;
  return {
    name,
    type: '',
    typeSource: 'ops',
    ops: [],
    parent,
    children: [],
    calls: [],
    notObservable: { reason, hint },
  };
}

/** `a.0`, `a.3` → `a.1`, `a.2` (and `0`, `3` → `1`, `2` at the top level). */
function numberedGaps(names: Iterable<string>): string[] {
  const highest = new Map<string, number>();
  const present = new Set<string>();
  for (const name of names) {
    present.add(name);
    const m = /^(?:(.*)\.)?(\d+)$/.exec(name);
    if (!m) continue;
    const parent = m[1] ?? '';
    highest.set(parent, Math.max(highest.get(parent) ?? -1, Number(m[2])));
  }
  const gaps: string[] = [];
  for (const [parent, max] of highest)
    for (let i = 0; i < max; i++) {
      const name = parent ? `${parent}.${i}` : String(i);
      if (!present.has(name)) gaps.push(name);
    }
  return gaps;
}

/** A numbered gap goes right before its next sibling (`1` before `2` … before `3`); the others last. */
export function placeUntraced(list: readonly ModuleInfo[], untraced: readonly ModuleInfo[]): ModuleInfo[] {
  const placed = [...list];
  const last: ModuleInfo[] = [];
  for (const info of [...untraced].reverse()) {
    const m = /^(.*?)(\d+)$/.exec(info.name);
    const next = m ? placed.findIndex((p) => p.name === `${m[1]}${Number(m[2]) + 1}`) : -1;
    if (next >= 0) placed.splice(next, 0, info);
    else last.unshift(info);
  }
  return [...placed, ...last];
}
