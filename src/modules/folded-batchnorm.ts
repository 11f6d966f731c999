/**
 * A default (eval) TorchScript export folds each BatchNorm that follows a Conv into the Conv: the
 * Conv's weights become anonymous (`onnx::Conv_193`) and the graph's Conv computes bn(conv(x)). Both
 * the BatchNorm's nodes and its parameters disappear, so nothing in the graph says which module owned
 * the BatchNorm. Every module whose output would be that fused value is therefore not observable: the
 * Conv itself (its own output, conv(x), exists nowhere), and any module around it (a wrapper whose
 * BatchNorm came after it returns conv(x); a Conv+BN block returns bn(conv(x)); the graph cannot
 * tell the two apart). For the same reason, the fused value is not what a module receiving it saw
 * when the BatchNorm was that module's first child.
 */
import { type GraphIndex, isParameter } from '../graph/graph-index.js';
import type { ModuleInfo, NotObservable } from './module-map.js';

/** How the reason of a Conv whose BatchNorm was folded into it starts (compare's reference explanations read it). */
export const FOLDED_CONV_REASON = 'the exporter folded the next BatchNorm into this';

/** Advice measured with torch 1.13: `do_constant_folding=False` still folds BatchNorm (the eval peephole does it). */
const KEEP_BATCHNORM =
  'Re-export with torch.onnx.export(..., training=torch.onnx.TrainingMode.PRESERVE) with the model in eval mode to keep BatchNorm nodes and observe every module (do_constant_folding=False does not keep them)';

/**
 * Marks every module whose output is a Conv with a folded BatchNorm as not observable, and that value
 * as an opaque input of the calls receiving it (the BatchNorm may have run inside them).
 */
export function markFoldedBatchNorm(index: GraphIndex, modules: Iterable<ModuleInfo>): void {
  const fused = foldedConvOutputs(index);
  if (fused.size === 0) return;
  for (const info of modules) {
    info.calls.forEach((call, i) => {
      const reasons = new Map(call.opaqueReasons ?? []);
      for (const v of call.inputs) {
        if (!fused.has(v) || call.opaqueInputs.includes(v)) continue;
        call.opaqueInputs.push(v);
        reasons.set(v, foldedInputReason(index, v, fused.get(v)!));
      }
      if (reasons.size > (call.opaqueReasons?.size ?? 0)) info.calls[i] = { ...call, opaqueReasons: reasons };
    });
    if (info.notObservable) continue;
    const value = info.calls.flatMap((c) => c.outputs).find((v) => fused.has(v));
    if (value === undefined) continue;
    info.notObservable = reasonFor(index, info, value, fused.get(value)!);
  }
}

/**
 * The output value of each Conv whose weight and bias the exporter renamed, with the weight's name.
 * Folding a BatchNorm always makes a new bias (the BatchNorm's shift); a weight the exporter only
 * computed ahead (weight_norm, a parametrization) keeps the Conv's own named bias, or none.
 */
function foldedConvOutputs(index: GraphIndex): Map<string, string> {
  const fused = new Map<string, string>();
  // Equal folded biases (BatchNorms with equal statistics, e.g. deep copies) reach the Conv through
  // the exporter's deduplicating Identity, under their own anonymous names.
  const anonymous = (v: string) => isParameter(index, v) && v.startsWith('onnx::');
  for (const node of index.nodes) {
    if (node.opType !== 'Conv' && node.opType !== 'ConvTranspose') continue;
    const weight = node.input?.[1] ?? '';
    const output = node.output?.[0];
    if (output && anonymous(weight) && anonymous(node.input?.[2] ?? '')) fused.set(output, weight);
  }
  return fused;
}

/**
 * The fused value may or may not be what the module received: the graph cannot tell, so the reason
 * says that rather than claiming the two differ.
 */
function foldedInputReason(index: GraphIndex, value: string, weight: string): string {
  const producer = index.nodes[index.producer.get(value)!];
  return `it receives the ${producer.opType} '${producer.name ?? value}' with a BatchNorm folded into it by the exporter (weights renamed '${weight}'); the graph cannot tell whether that BatchNorm ran before this call (the module received bn(conv(x)), the value here) or inside it as its first child (it received conv(x))`;
}

function reasonFor(index: GraphIndex, info: ModuleInfo, value: string, weight: string): NotObservable {
  const producer = index.nodes[index.producer.get(value)!];
  const hint = `${KEEP_BATCHNORM}; the fused value is the ONNX value '${value}' (capture it by that name).`;
  if (info.children.length === 0) {
    return {
      reason: `${FOLDED_CONV_REASON} ${producer.opType} (weights renamed '${weight}'): the graph holds batchnorm(conv(x)), under no module name`,
      hint,
      inputsObservable: true,
    };
  }
  return {
    reason: `its output would be the ${producer.opType} '${producer.name ?? value}' with a BatchNorm folded into it by the exporter (weights renamed '${weight}'); the graph cannot tell whether that BatchNorm ran inside this module (output bn(conv(x))) or after it (output conv(x))`,
    hint,
    inputsObservable: true,
  };
}
