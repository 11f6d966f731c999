/**
 * What a module call returns when ONNX Runtime's fusions cut across module boundaries:
 * - a fused norm (`SkipLayerNormalization`) also returns the residual sum it normalises (output 3)
 *   and statistics (outputs 1, 2): the norm module's output is output 0 only; the sum is computed
 *   on behalf of the module whose residual `Add` it replaced;
 * - a residual sum fused into the next block's norm: a module whose two summands both leave into
 *   the same fused norm returned that sum, which is the norm's output 3 when the graph keeps it and
 *   is not in the graph otherwise;
 * - a Linear whose bias the optimiser moved into the next op (`FastGelu`, `BiasGelu`,
 *   `SkipLayerNormalization`'s input 4): the graph holds its output without the bias, so it is not
 *   the module's output, unless that bias is all zeros.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { DataType, type TensorProto } from '../onnx/types.js';
import { valueModule } from './fused-scopes.js';

/** Fused norms: which inputs they add up, which input is the fused bias, which output is the sum. */
const SUM_NORMS: Record<string, { summands: number[]; bias: number; sum: number }> = {
  SkipLayerNormalization: { summands: [0, 1], bias: 4, sum: 3 },
  SkipSimplifiedLayerNormalization: { summands: [0, 1], bias: 4, sum: 3 },
};
export const isSumNorm = (op: string | undefined) => SUM_NORMS[op ?? ''] !== undefined;
const NORMS = new Set([
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
]);
/** Ops adding a bias to their data input 0: the bias of the Linear producing that input. */
const BIAS_OPS: Record<string, number> = { FastGelu: 1, BiasGelu: 1, BiasAdd: 1, BiasDropout: 1 };

export interface FusedLeaving {
  readonly leaving: string[];
  /** Why the call's output is not in the graph, when it is not. */
  readonly hidden?: string;
}

/**
 * The values that really leave a call, given ONNX Runtime's fused norms: their side outputs dropped
 * from a norm module, residual sums computed by the next norm put in place of their summands.
 */
export function fusedLeaving(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  leaving: readonly string[],
  leaf: boolean,
  module: string,
): FusedLeaving {
  let out = leaving.filter((v) => !(leaf && isNormSideOutput(index, v, inside)));
  let hidden: string | undefined;
  for (const v of out) {
    for (const reader of index.consumers.get(v) ?? []) {
      const node = index.nodes[reader];
      const spec = SUM_NORMS[node.opType ?? ''];
      if (!spec || inside.has(reader)) continue;
      const summands = spec.summands.map((i) => node.input?.[i] ?? '');
      const ours = summands.filter((s) => producedInside(index, s, inside));
      if (ours.length !== summands.length) continue;
      const sum = node.output?.[spec.sum];
      const readInside = (index.consumers.get(sum ?? '') ?? []).some((r) => inside.has(r));
      out = out.filter((x) => !summands.includes(x));
      // The sum is this module's own Add only where its name says so (`/transformer/h.0/Add_1_output_0`
      // for `transformer.h.0`): a module returning both summands as a tuple looks the same otherwise.
      const named = sum ? valueModule(sum) : undefined;
      const ownSum = named !== undefined && (named === module || named.startsWith(`${module}.`));
      if (sum && !readInside && ownSum) out.push(sum);
      else
        hidden = sum
          ? `its output is not certain: both values it computes are added by the fused ${node.opType} '${node.name ?? reader}' of the next module, whose sum (output ${spec.sum}, '${sum}') is not named after this module`
          : `its output, the residual sum, is computed inside the fused ${node.opType} '${node.name ?? reader}' of the next module, which does not return it (its optional output ${spec.sum} is unused)`;
      break;
    }
  }
  return { leaving: [...new Set(out)], hidden };
}

function producedInside(index: GraphIndex, value: string, inside: ReadonlySet<number>): boolean {
  const p = index.producer.get(value);
  return p !== undefined && inside.has(p);
}

/** A fused norm's outputs other than 0 (mean, inverse std, the residual sum) are not the norm module's. */
function isNormSideOutput(index: GraphIndex, value: string, inside: ReadonlySet<number>): boolean {
  const p = index.producer.get(value);
  if (p === undefined || !inside.has(p)) return false;
  const node = index.nodes[p];
  return NORMS.has(node.opType ?? '') && node.output?.[0] !== value;
}

/**
 * The fused op that adds this value's bias, when an optimiser moved a Linear's bias into the op
 * reading its output; undefined when the value is complete (no such op, or an all-zero bias).
 */
export function fusedBiasReader(index: GraphIndex, value: string): string | undefined {
  for (const reader of index.consumers.get(value) ?? []) {
    const node = index.nodes[reader];
    const op = node.opType ?? '';
    const sumSpec = SUM_NORMS[op];
    const biasAt = sumSpec ? sumSpec.bias : BIAS_OPS[op];
    if (biasAt === undefined) continue;
    const dataInputs = sumSpec ? sumSpec.summands : [0];
    if (!dataInputs.some((i) => node.input?.[i] === value)) continue;
    const bias = node.input?.[biasAt];
    if (!bias || isZeroInitializer(index, bias)) continue;
    return `${op} '${node.name ?? reader}'`;
  }
  return undefined;
}

function isZeroInitializer(index: GraphIndex, name: string): boolean {
  const t: TensorProto | undefined = index.graph.initializer?.find((i) => i.name === name);
  if (!t) return false;
  if (t.floatData?.length) return t.floatData.every((x) => x === 0);
  const float = t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16;
  // +0.0 and -0.0 are both zero: every byte 0, or only sign bits set.
  const signByte = t.dataType === DataType.FLOAT ? 4 : 2;
  return (
    float && !!t.rawData?.length && t.rawData.every((b, i) => b === 0 || (b === 0x80 && i % signByte === signByte - 1))
  );
}
