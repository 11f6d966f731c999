/**
 * One captured value ready to draw: its float32 values, statistics and histogram. Built where the
 * model runs (a Web Worker in the viewer, Node for the report), so drawing never scans the data again.
 *
 * ```ts
 * for (const [key, tensor] of acts) layers.push(layerData(key, acts.targets.find((t) => t.key === key)?.module, tensor));
 * ```
 */
import { summarize, toFloat32, type TensorSummary } from '../tensor-summary.js';
import type { HostTensor } from '../tensor.js';
import { histogram, type Histogram } from './histogram.js';

export interface LayerData {
  readonly key: string;
  /** The PyTorch module the value belongs to; undefined for a raw graph value. */
  readonly module: string | undefined;
  readonly dtype: string;
  readonly dims: number[];
  readonly values: Float32Array;
  /** mean, std, min, max and fractionPositive (the share of units active, > 0), over the whole batch. */
  readonly summary: TensorSummary;
  readonly histogram: Histogram;
}

/** The drawable form of a tensor; undefined for string tensors, which have no values to draw. */
export function layerData(key: string, module: string | undefined, tensor: HostTensor): LayerData | undefined {
  if (tensor.type === 'string') return undefined;
  const values = toFloat32(tensor);
  const summary = summarize({ type: 'float32', dims: tensor.dims, data: values });
  return {
    key,
    module,
    dtype: tensor.type,
    dims: [...tensor.dims],
    values,
    summary,
    histogram: histogram(values, summary.min, summary.max),
  };
}

/** Layer data for every entry of a capture, in capture order. */
export function captureLayers(
  entries: Iterable<[string, HostTensor]>,
  moduleOf: (key: string) => string | undefined,
): LayerData[] {
  const out: LayerData[] = [];
  for (const [key, tensor] of entries) {
    const layer = layerData(key, moduleOf(key), tensor);
    if (layer) out.push(layer);
  }
  return out;
}
