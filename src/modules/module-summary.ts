/** The rows `model.modules()` returns, and the weight size from tensor headers: read off the map and graph. */
import { declaredShape, type GraphIndex } from '../graph/graph-index.js';
import type { ModelProto } from '../onnx/types.js';
import type { ModuleMap } from './module-map.js';

/** One row of `modules()`: what `named_modules()` shows, plus calls and observability. */
export interface ModuleSummary {
  name: string;
  type: string;
  calls: number;
  children: string[];
  leaf: boolean;
  ops: string[];
  /** Declared output shape of each call's outputs: [] for a scalar, null where the graph declares none. */
  outputShapes: ((number | string)[] | null)[][];
  notObservable?: { reason: string; hint: string };
}

/** The module tree, like PyTorch's `named_modules()` (the root excluded), in execution order. */
export function moduleSummaries(map: ModuleMap, index: GraphIndex): ModuleSummary[] {
  return map.modules.map((m) => ({
    name: m.name,
    type: m.type,
    calls: m.calls.length,
    children: [...m.children],
    leaf: m.children.length === 0,
    ops: [...m.ops],
    outputShapes: m.calls.map((c) => c.outputs.map((v) => declaredShape(index.types.get(v)) ?? null)),
    ...(m.notObservable ? { notObservable: { ...m.notObservable } } : {}),
  }));
}

/** Bytes of weights, embedded or in external files, from the tensor headers alone. */
export function weightBytes(proto: ModelProto): number {
  let bytes = 0;
  for (const t of proto.graph?.initializer ?? []) {
    const external = t.externalData?.find((e) => e.key === 'length')?.value;
    bytes += external !== undefined ? Number(external) : (t.rawData?.length ?? 0);
  }
  return bytes;
}
