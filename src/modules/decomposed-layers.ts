/**
 * Layers whose only named parameter sits on their last node, in exports named from parameters alone
 * (optimum's older TorchScript exports, no scopes): the node reading `q_lin.bias` is the Linear's bias
 * Add, its MatMul reads an anonymous weight (`onnx::MatMul_302`); the node reading `LayerNorm.weight`
 * is the affine Mul at the end of a decomposed LayerNorm (opset < 17). The nodes before it, matched
 * exactly, join the module, so it is typed Linear / LayerNorm and its input is what the module received.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { ScopeStep } from './scopes.js';

/** Gives the MatMul of a bias Add and the statistics of a decomposed LayerNorm their module's path. */
export function joinDecomposedLayers(
  index: GraphIndex,
  paths: ScopeStep[][],
  owner: (parameter: string) => string | undefined,
): ScopeStep[][] {
  const out = [...paths];
  const producerOf = (v: string | undefined) => (v === undefined ? undefined : index.producer.get(v));
  const op = (n: number | undefined) => (n === undefined ? undefined : index.nodes[n].opType);
  const only = (v: string, reader: number) => (index.consumers.get(v) ?? []).every((r) => r === reader);
  index.nodes.forEach((node, i) => {
    const path = paths[i];
    if (path.length === 0) return;
    const inputs = node.input ?? [];
    if (node.opType === 'Add') {
      const data = inputs.find((v) => !index.initializers.has(v));
      const mm = producerOf(data);
      if (mm !== undefined && op(mm) === 'MatMul' && paths[mm].length === 0 && only(data!, i)) {
        const weight = index.nodes[mm].input?.[1] ?? '';
        if (index.initializers.has(weight) && owner(weight) === undefined) out[mm] = path;
      }
    }
    if (node.opType === 'Mul') {
      const chain = layerNormChain(
        index,
        inputs.find((v) => !index.initializers.has(v)),
      );
      if (chain?.every((n) => paths[n].length === 0)) for (const n of chain) out[n] = path;
    }
  });
  return out;
}

/**
 * The nodes of `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)` ending in `normed`, as the
 * TorchScript exporter writes nn.LayerNorm before opset 17; undefined if it is anything else.
 */
function layerNormChain(index: GraphIndex, normed: string | undefined): number[] | undefined {
  const node = (v: string | undefined, type: string) => {
    const n = v === undefined ? undefined : index.producer.get(v);
    return n !== undefined && index.nodes[n].opType === type ? n : undefined;
  };
  const div = node(normed, 'Div');
  if (div === undefined) return undefined;
  const [centered, std] = index.nodes[div].input ?? [];
  const sub = node(centered, 'Sub');
  const sqrt = node(std, 'Sqrt');
  const addEps = node(index.nodes[sqrt ?? -1]?.input?.[0], 'Add');
  const variance = node(index.nodes[addEps ?? -1]?.input?.[0], 'ReduceMean');
  const pow = node(index.nodes[variance ?? -1]?.input?.[0], 'Pow');
  const mean = node(index.nodes[sub ?? -1]?.input?.[1], 'ReduceMean');
  const chain = [div, sub, sqrt, addEps, variance, pow, mean];
  if (chain.some((n) => n === undefined)) return undefined;
  const x = index.nodes[sub!].input?.[0];
  if (index.nodes[mean!].input?.[0] !== x || index.nodes[pow!].input?.[0] !== centered) return undefined;
  return chain as number[];
}
