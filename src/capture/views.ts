/**
 * Duplicate values: a Flatten, Reshape, Squeeze, Unsqueeze or Identity holds its input's elements
 * in the same order, so where that input is captured too (a CNN's pool → flatten), the capture
 * graph returns only the result's shape and the key is a JS view of the input's data with it,
 * instead of a second copy of the same bytes.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import { valueContext } from '../graph/rewrite.js';
import type { Runtime, Tensor } from '../runtime/runtime.js';
import type { CaptureTarget } from './select.js';

const VIEW_OPS = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity']);

/**
 * Each target that is such a view of another unreduced target of the selection, with that target.
 * Only for values outside If/Loop bodies (where calls are split or may not run); never a model
 * output (fetched anyway).
 */
export function reshapeViews(index: GraphIndex, targets: readonly CaptureTarget[]): Map<CaptureTarget, CaptureTarget> {
  const topLevel = (value: string) => valueContext(index, value).length === 0;
  const byValue = new Map<string, CaptureTarget>();
  // A derived target's value is only its anchor (derive.ts): neither a base nor a view.
  for (const t of targets) if (t.reduce === 'none' && !t.derive && !byValue.has(t.value)) byValue.set(t.value, t);
  const views = new Map<CaptureTarget, CaptureTarget>();
  for (const t of targets) {
    const producer = index.producer.get(t.value);
    if (t.reduce !== 'none' || t.derive || producer === undefined || index.outputs.includes(t.value)) continue;
    const node = index.nodes[producer];
    const base = byValue.get(node.input?.[0] ?? '');
    if (!VIEW_OPS.has(node.opType ?? '') || !base || views.has(base) || base.value === t.value) continue;
    if (topLevel(t.value) && topLevel(base.value)) views.set(t, base);
  }
  // A base must be fetched whole: a view of a view (a chain of Identity markers, `return x, f(x)`
  // in a marked export) would read the middle one's shape as its data.
  for (const [t, base] of views) if (views.has(base)) views.delete(t);
  return views;
}

/** The view: the base tensor's data under the shape the graph returned for the target. */
export function viewTensor(runtime: Runtime, base: Tensor, shape: Tensor): Tensor {
  return new runtime.Tensor(base.type, base.data, Array.from(shape.data as BigInt64Array, Number));
}
