/**
 * The structural checks ONNX Runtime would fail later with a runtime error (E_RUNTIME, exit 1),
 * done at load time with the offending node named (E_BAD_FILE): a value read by a top-level node
 * that nothing produces, a graph output that nothing produces, and a cycle among the top-level
 * nodes. Conservative: a value produced anywhere (subgraphs included) counts as produced, and
 * nodes out of topological order are fine (the runtime sorts them).
 */
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from './graph-index.js';

function malformed(message: string, details: Record<string, unknown>): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `The model is not well formed: ${message}.`, {
    hint: 'Export the model again (torch.onnx.export), or run onnx.checker.check_model on it to see what is broken.',
    details,
  });
}

const nodeName = (index: GraphIndex, i: number) => {
  const node = index.nodes[i];
  return `node '${node.name || `#${i}`}' (${node.opType ?? '?'})`;
};

export function checkStructure(index: GraphIndex): void {
  const known = new Set<string>([...(index.graph.input ?? []).map((v) => v.name ?? ''), ...index.initializers]);
  for (const value of index.producer.keys()) known.add(value);
  const top = index.nodes.flatMap((_, i) => (index.context[i].length === 0 ? [i] : []));
  for (const i of top) {
    const missing = (index.nodes[i].input ?? []).find((v) => v !== '' && !known.has(v));
    if (missing !== undefined)
      throw malformed(`${nodeName(index, i)} reads '${missing}', which no node, input or initializer produces`, {
        node: index.nodes[i].name,
        value: missing,
      });
  }
  const output = index.outputs.find((o) => !known.has(o));
  if (output !== undefined)
    throw malformed(`the graph output '${output}' is produced by no node, input or initializer`, { value: output });
  const cyclic = cycleNode(index, top);
  if (cyclic !== undefined)
    throw malformed(`${nodeName(index, cyclic)} depends on its own output (a cycle)`, {
      node: index.nodes[cyclic].name,
    });
}

/** A top-level node on a cycle, or undefined (Kahn's algorithm over the top-level nodes). */
function cycleNode(index: GraphIndex, top: readonly number[]): number | undefined {
  const isTop = new Set(top);
  const pending = new Map<number, number>();
  const dependents = new Map<number, number[]>();
  for (const i of top) {
    const from = new Set(
      index.reads[i].map((v) => index.producer.get(v)).filter((p) => p !== undefined && isTop.has(p)),
    );
    pending.set(i, from.size);
    for (const p of from) (dependents.get(p!) ?? dependents.set(p!, []).get(p!)!).push(i);
  }
  const ready = top.filter((i) => pending.get(i) === 0);
  for (let k = 0; k < ready.length; k++)
    for (const d of dependents.get(ready[k]) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) ready.push(d);
    }
  return ready.length === top.length ? undefined : top.find((i) => pending.get(i)! > 0);
}
