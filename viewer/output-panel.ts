/**
 * The model's own outputs: for a classifier (N, K), the top classes of sample 0 with their
 * softmax probabilities; otherwise each output's shape and statistics.
 */
import { formatDims, formatStat } from '../src/viewer-core/format.js';
import type { LayerData } from '../src/viewer-core/layer-data.js';
import { topClasses } from '../src/viewer-core/predict.js';
import { el } from './dom.js';

/** Renders the outputs and returns the predicted class of the first classifier output, if any. */
export function showOutputs(container: HTMLElement, outputs: readonly LayerData[]): number | undefined {
  let prediction: number | undefined;
  const blocks = outputs.map((out) => {
    const classes = topClasses(out.dims, out.values);
    const title = el('h3', {}, out.key, ' ', el('span', { class: 'dims' }, formatDims(out.dims)));
    if (!classes)
      return el(
        'div',
        { class: 'output' },
        title,
        el(
          'p',
          {},
          `mean ${formatStat(out.summary.mean)} · min ${formatStat(out.summary.min)} · max ${formatStat(out.summary.max)}`,
        ),
      );
    prediction ??= classes[0].index;
    const rows = classes.map((c) =>
      el(
        'li',
        { class: 'class-row' },
        el('span', { class: 'class-index' }, String(c.index)),
        el('span', { class: 'bar' }, el('span', { style: `width: ${(c.probability * 100).toFixed(1)}%` })),
        el('span', { class: 'prob' }, `${(c.probability * 100).toFixed(1)}%`),
      ),
    );
    return el(
      'div',
      { class: 'output' },
      title,
      el(
        'p',
        { class: 'prediction', 'data-prediction': classes[0].index },
        'predicted class ',
        el('b', {}, String(classes[0].index)),
      ),
      el('ol', { class: 'classes' }, ...rows),
    );
  });
  container.replaceChildren(el('h2', {}, 'Output'), ...blocks);
  return prediction;
}
