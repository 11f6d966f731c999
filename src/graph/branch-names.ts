/**
 * Sibling subgraphs may compute values under the same names: optimum's merged decoder
 * (`decoder_model_merged.onnx`) is one `If` on `use_cache_branch` whose two branches are exports of
 * the same decoder, so both produce `/model/layers.0/Add_output_0`. ONNX Runtime scopes each
 * branch, but neurotap indexes one flat graph where a name has one producer: the later copies are
 * renamed (`/model/layers.0/Add_output_0__else_branch`). Module names come from node names and
 * stay as they are, so both branches give the same keys; only the branch that ran returns them.
 */
import type { GraphProto, NodeProto } from '../onnx/types.js';

/** Renames, in place, values a subgraph produces under a name already produced elsewhere; true if any. */
export function uniqueBranchValues(graph: GraphProto): boolean {
  const produced = new Set<string>([
    ...(graph.input ?? []).map((v) => v.name ?? ''),
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  let renamed = false;
  const visitSubgraphs = (nodes: readonly NodeProto[], outer: ReadonlyMap<string, string>) => {
    for (const node of nodes)
      for (const attr of node.attribute ?? []) if (attr.g) renamed = visit(attr.g, outer, attr.name ?? 'g') || renamed;
  };
  const visit = (g: GraphProto, outer: ReadonlyMap<string, string>, tag: string): boolean => {
    const local = new Map(outer);
    const own = [...(g.initializer ?? []).map((t) => t.name ?? ''), ...(g.node ?? []).flatMap((n) => n.output ?? [])];
    let changed = false;
    for (const name of own) {
      if (!name) continue;
      if (produced.has(name)) {
        let fresh = `${name}__${tag}`;
        for (let k = 2; produced.has(fresh); k++) fresh = `${name}__${tag}${k}`;
        local.set(name, fresh);
        changed = true;
      } else local.delete(name); // its own value shadows an outer rename
      produced.add(local.get(name) ?? name);
    }
    const map = (v: string) => local.get(v) ?? v;
    for (const t of g.initializer ?? []) t.name = map(t.name ?? '');
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map(map);
      n.output = (n.output ?? []).map(map);
    }
    for (const v of [...(g.output ?? []), ...(g.valueInfo ?? [])]) v.name = map(v.name ?? '');
    visitSubgraphs(g.node ?? [], local);
    return changed;
  };
  visitSubgraphs(graph.node ?? [], new Map());
  return renamed;
}
