/**
 * In exports named from parameters alone (node names without scopes, `Gemm_3`, as older
 * exporters and some converters write them), a node reading no
 * parameter (an activation, a residual Add) carries no module. It belongs to a module only when it
 * lies between that module's nodes: everything it reads comes from inside the module (or from
 * nodes that themselves lie inside) and everything reading it is inside too. The ReLU between
 * `a.0` and `a.2` of a Sequential `a` is `a`'s; a Mul after `head` with nothing after it, or an
 * op reading a graph input, is the root's: the graph cannot say it ran inside a module.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo } from './module-map.js';
import { parameterOwner } from './parameter-renames.js';
import type { ScopeStep } from './scopes.js';

/** Paths for the parameterless nodes (`free`) from the module paths around them; others unchanged. */
export function placeBetween(index: GraphIndex, paths: ScopeStep[][], free: (i: number) => boolean): ScopeStep[][] {
  const n = index.nodes.length;
  const up: (ScopeStep[] | undefined)[] = new Array(n);
  const down: (ScopeStep[] | undefined)[] = new Array(n);
  const around = (sides: (ScopeStep[] | undefined)[]) =>
    sides.length === 0 || sides.some((s) => s === undefined) ? undefined : commonPrefix(sides as ScopeStep[][]);
  // Nodes are numbered in execution order (a subgraph's nodes before their owner): producers first.
  for (let i = 0; i < n; i++) {
    if (!free(i)) up[i] = paths[i];
    else up[i] = around(readsFrom(index, i).map((p) => (p === undefined ? undefined : up[p])));
  }
  for (let i = n - 1; i >= 0; i--) {
    if (!free(i)) down[i] = paths[i];
    else down[i] = around(readers(index, i).map((r) => (r === undefined ? undefined : down[r])));
  }
  return paths.map((path, i) => {
    if (!free(i) || up[i] === undefined || down[i] === undefined) return path;
    return commonPrefix([up[i]!, down[i]!]);
  });
}

/** The producer of each value the node reads (undefined: a graph input or a loop body's input). */
function readsFrom(index: GraphIndex, i: number): (number | undefined)[] {
  return (index.nodes[i].input ?? [])
    .filter((v) => v !== '' && !index.initializers.has(v))
    .map((v) => index.producer.get(v));
}

/** The nodes reading the node's outputs (undefined: a graph output nothing else reads). */
function readers(index: GraphIndex, i: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (const v of index.nodes[i].output ?? []) {
    if (!v) continue;
    if (index.outputs.includes(v)) out.push(undefined);
    out.push(...(index.consumers.get(v) ?? []).filter((r) => r !== i));
  }
  // Nothing reads it (an unused result): nothing places it inside a module.
  return out.length ? out : [undefined];
}

function commonPrefix(paths: readonly ScopeStep[][]): ScopeStep[] {
  let k = Math.min(...paths.map((p) => p.length));
  for (const p of paths) {
    let j = 0;
    while (j < k && p[j].module === paths[0][j].module && p[j].call === paths[0][j].call) j++;
    k = j;
  }
  return paths[0].slice(0, k);
}

/**
 * The other side of the same evidence: an op reading no parameter right after a module's last node
 * may be the module's own last op (a Sequential ending in a ReLU) or its caller's, and nothing in
 * an export named from parameters tells. A module with children whose output such an op reads is
 * reported; a leaf (a Linear, a Conv) computes no op after its parameter op, so it keeps its output.
 */
export function markOpenEnds(index: GraphIndex, modules: Iterable<ModuleInfo>): void {
  for (const info of modules) {
    if (info.notObservable || info.children.length === 0) continue;
    for (const call of info.calls) {
      const inside = new Set(call.nodes);
      const op = call.outputs
        .flatMap((v) => index.consumers.get(v) ?? [])
        .find((r) => !inside.has(r) && readsNoParameter(index, r));
      if (op === undefined) continue;
      info.notObservable = {
        reason: `ambiguous: names here come from parameter names, and its output is read by '${index.nodes[op].opType}', which reads no parameter: that op may be this module's last (a Sequential ending in an activation) or its caller's, and the graph does not say which`,
        hint: 'Export with scopes (a single torch.onnx.export per process for a scripted model) or with neurotap_torch.export to observe it.',
      };
      break;
    }
  }
}

function readsNoParameter(index: GraphIndex, r: number): boolean {
  const node = index.nodes[r];
  if ((node.attribute ?? []).some((a) => a.g || a.graphs?.length)) return false;
  return !(node.input ?? []).some((v) => index.initializers.has(v) && parameterOwner(v) !== undefined);
}
