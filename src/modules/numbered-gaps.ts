/**
 * Where module names come from parameter names (no scopes, or dynamo branches without metadata),
 * a child without parameters (`encoder.1`, a ReLU between `encoder.0` and `encoder.2`) leaves no
 * name: its nodes join the parent. The numbering of a Sequential/ModuleList still proves it
 * exists, so it is listed, not observable, rather than missing without a word.
 */
import type { ModuleInfo, ModuleMap } from './module-map.js';

const NUMBERED = /^(.*?)(?:^|\.)(\d+)$/;

export function withNumberedGaps(map: ModuleMap): ModuleMap {
  const byParent = new Map<string, Set<number>>();
  for (const m of map.modules) {
    const match = NUMBERED.exec(m.name);
    if (!match) continue;
    const parent = m.name.includes('.') ? m.name.slice(0, m.name.lastIndexOf('.')) : '';
    (byParent.get(parent) ?? byParent.set(parent, new Set()).get(parent)!).add(Number(match[2]));
  }
  // Each gap goes right before the next sibling the map knows.
  const before = new Map<string, ModuleInfo[]>();
  for (const [parent, indices] of byParent) {
    const known = [...indices].sort((a, b) => a - b);
    const child = (i: number) => (parent ? `${parent}.${i}` : String(i));
    for (let i = 0; i < known[known.length - 1]; i++) {
      if (indices.has(i)) continue;
      const next = child(known.find((k) => k > i)!);
      (before.get(next) ?? before.set(next, []).get(next)!).push(gapModule(child(i), parent || undefined));
      const siblings = parent ? map.get(parent)?.children : undefined;
      if (siblings) siblings.splice(siblings.indexOf(next), 0, child(i));
    }
  }
  if (before.size === 0) return map;
  const modules: ModuleInfo[] = [];
  const place = (m: ModuleInfo) => {
    modules.push(...(before.get(m.name) ?? []));
    modules.push(m);
  };
  for (const m of map.modules) place(m);
  const byName = new Map(modules.map((m) => [m.name, m]));
  return { source: map.source, modules, get: (name) => byName.get(name) };
}

function gapModule(name: string, parent: string | undefined): ModuleInfo {
  return {
    name,
    type: '',
    typeSource: 'ops',
    ops: [],
    parent,
    children: [],
    calls: [],
    notObservable: {
      reason:
        'no node of the export is named after it (names here come from parameter names, and it has none, or it leaves no node in eval like Dropout): any nodes it has count as its parent’s',
      hint: 'Export with the TorchScript exporter (scoped node names) or keep the dynamo metadata on every node; the "values" preset reaches its output as an ONNX value.',
    },
  };
}
