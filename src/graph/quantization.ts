/**
 * Where a quantized value's scale and zero point live, so `dequantize` can turn it into the float
 * it stands for (DequantizeLinear inside the graph): outputs of QuantizeLinear,
 * DynamicQuantizeLinear and the QLinear* ops.
 */
import type { GraphIndex } from './graph-index.js';

export interface QuantParams {
  readonly scale: string;
  readonly zeroPoint: string | undefined;
}

/** For each op, where its output's scale and zero point are: ['in', i] (input i) or ['out', i]. */
const PARAMS: Record<string, readonly [readonly ['in' | 'out', number], readonly ['in' | 'out', number]]> = {
  QuantizeLinear: [
    ['in', 1],
    ['in', 2],
  ],
  DynamicQuantizeLinear: [
    ['out', 1],
    ['out', 2],
  ],
  QLinearConv: [
    ['in', 6],
    ['in', 7],
  ],
  QLinearMatMul: [
    ['in', 6],
    ['in', 7],
  ],
  QLinearAdd: [
    ['in', 6],
    ['in', 7],
  ],
  QLinearMul: [
    ['in', 6],
    ['in', 7],
  ],
  QLinearLeakyRelu: [
    ['in', 3],
    ['in', 4],
  ],
  QLinearSigmoid: [
    ['in', 3],
    ['in', 4],
  ],
  QLinearAveragePool: [
    ['in', 3],
    ['in', 4],
  ],
  QLinearGlobalAveragePool: [
    ['in', 3],
    ['in', 4],
  ],
  QLinearConcat: [
    ['in', 0],
    ['in', 1],
  ],
};

export function quantParams(index: GraphIndex, value: string): QuantParams | undefined {
  const p = index.producer.get(value);
  if (p === undefined) return undefined;
  const node = index.nodes[p];
  const where = PARAMS[node.opType ?? ''];
  // Only the quantized output itself (DynamicQuantizeLinear also outputs its scale and zero point).
  if (!where || node.output?.[0] !== value) return undefined;
  const pick = ([side, i]: readonly ['in' | 'out', number]) =>
    (side === 'in' ? node.input?.[i] : node.output?.[i]) || undefined;
  const scale = pick(where[0]);
  return scale ? { scale, zeroPoint: pick(where[1]) } : undefined;
}
