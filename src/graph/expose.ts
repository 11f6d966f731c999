/**
 * Graph rewrites for capture: make intermediate values graph outputs, so ONNX Runtime returns them.
 * The model is copied shallowly: nodes, initializers and their payloads are shared, not duplicated.
 */
import type { GraphIndex } from './graph-index.js';
import type { ModelProto, ValueInfoProto } from '../onnx/types.js';

/** A model whose graph also outputs `values` (those that are not outputs already). */
export function exposeValues(model: ModelProto, index: GraphIndex, values: Iterable<string>): ModelProto {
  const graph = model.graph ?? {};
  const existing = new Set(index.outputs);
  const extra: ValueInfoProto[] = [];
  for (const name of values) {
    if (existing.has(name) || index.initializers.has(name)) continue;
    existing.add(name);
    // Declaring the type when known lets ORT check it; ORT infers it otherwise.
    const type = index.types.get(name);
    extra.push(type ? { name, type } : { name });
  }
  return { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...extra] } };
}
