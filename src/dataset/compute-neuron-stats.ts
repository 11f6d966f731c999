/**
 * `computeNeuronStats`: one streaming pass over a data set, per-neuron statistics for every
 * selected key, and the dead neurons (active for no item) per key (isomorphic).
 *
 * ```ts
 * const report = await computeNeuronStats(model, source, { layers: ['conv2', 'fc1'], topK: 5 });
 * report.layers[0].dead; // [3, 11]: channels of conv2 that no item made positive
 * ```
 *
 * The neuron axis (in array coordinates, where axis 0 runs over items): `axis` when given
 * (negative counts from the end); otherwise axis 1 for conv-like modules (Conv*, *Norm*d, *Pool*d)
 * and any array of rank >= 4 ([N, C, H, W]), else the last axis ([N, F] units, [N, T, H] hidden
 * units of a recurrent layer or transformer).
 */
import { NeurotapError } from '../errors.js';
import type { NeurotapModel } from '../model.js';
import { extractDataset, plannedBatches } from './extract.js';
import { NeuronAccumulator, type NeuronSummary } from './neuron-accumulator.js';
import type { DataSource, ExtractDatasetOptions, KeyLayout } from './types.js';

export interface NeuronStatsOptions extends ExtractDatasetOptions {
  /** Neuron axis for every key, 0 being the item axis (default: see above). */
  axis?: number;
  /** Items kept per neuron, ranked by response (default 5). */
  topK?: number;
  onProgress?: (progress: { items: number; totalItems: number }) => void;
}

export interface LayerStats {
  key: string;
  module?: string;
  /** Shape of the key's array: [items, ...]. */
  shape: number[];
  axis: number;
  neurons: NeuronSummary[];
  /** Neurons no item activated (response never > 0). */
  dead: number[];
}

export interface NeuronStatsReport {
  items: number;
  topK: number;
  layers: LayerStats[];
  skipped: { key: string; reason: string }[];
}

const CONV_LIKE = /^(Conv|ConvTranspose|LazyConv)\d?d|^(BatchNorm|InstanceNorm|LazyBatchNorm)\dd|Pool\dd$|^Dropout\dd$/;

export function defaultNeuronAxis(rank: number, moduleType: string | undefined): number {
  if (rank >= 4 || (rank >= 3 && CONV_LIKE.test(moduleType ?? ''))) return 1;
  return rank - 1;
}

function neuronAxis(k: KeyLayout, axis: number | undefined): number {
  const rank = k.shape.length + 1;
  if (axis === undefined) return defaultNeuronAxis(rank, k.moduleType);
  const resolved = axis < 0 ? rank + axis : axis;
  if (!Number.isSafeInteger(resolved) || resolved < 1 || resolved >= rank) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Key '${k.key}' has rank ${rank} ([items, ${k.shape.join(', ')}]); axis ${axis} is not one of its neuron axes 1..${rank - 1}.`,
      {
        hint: 'Axis 0 runs over items; pick a larger one, or select layers of one rank per run.',
      },
    );
  }
  return resolved;
}

/** One key's running statistics: what a shard's part file holds, and what parts merge into. */
export interface LayerAccumulator {
  /** The key's layout, a scalar per item viewed as [1]. */
  layout: KeyLayout;
  axis: number;
  acc: NeuronAccumulator;
}

/** The running statistics of a pass over (a shard of) a data set, before they are summarised. */
export interface NeuronStatsState {
  /** Items accumulated. */
  items: number;
  topK: number;
  layers: LayerAccumulator[];
  skipped: { key: string; reason: string }[];
}

export function checkTopK(topK: number): number {
  if (!Number.isSafeInteger(topK) || topK < 0)
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected topK >= 0; got ${topK}.`, { hint: 'E.g. topK: 5.' });
  return topK;
}

/** One streaming pass (over `options.shard` when given), without summarising: see `neuronStatsReport`. */
export async function accumulateNeuronStats(
  model: NeurotapModel,
  source: DataSource,
  options: NeuronStatsOptions = {},
): Promise<NeuronStatsState> {
  const topK = checkTopK(options.topK ?? 5);
  const accumulators = new Map<string, LayerAccumulator>();
  let skipped: NeuronStatsReport['skipped'] = [];
  let items = 0;
  const total = plannedBatches(source, options).reduce((n, b) => n + b.end - b.start, 0);
  // The model outputs are not neurons of a layer; leaving them out also lets the run stop early.
  for await (const batch of extractDataset(model, source, { outputs: false, ...options })) {
    skipped = [...batch.layout.skipped];
    for (const layout of batch.layout.keys) {
      let entry = accumulators.get(layout.key);
      if (!entry) {
        // A scalar per item is one neuron: view [n] as [n, 1].
        const shaped = layout.shape.length === 0 ? { ...layout, shape: [1] } : layout;
        const axis = neuronAxis(shaped, options.axis);
        // Never more kept items than the data set has: topK 1e9 must not allocate 1e9 per neuron.
        const kept = Math.min(topK, source.count);
        entry = { layout: shaped, axis, acc: new NeuronAccumulator(shaped.shape, axis, kept) };
        accumulators.set(layout.key, entry);
      }
      entry.acc.add(batch.activations.get(layout.key)!, batch.itemIds, batch.start);
    }
    items += batch.itemIds.length;
    options.onProgress?.({ items, totalItems: total });
  }
  return { items, topK, layers: [...accumulators.values()], skipped };
}

/** The report of running statistics: per neuron count, mean, std..., and the dead neurons per key. */
export function neuronStatsReport(state: NeuronStatsState): NeuronStatsReport {
  const layers = state.layers.map(({ layout, axis, acc }) => {
    const neurons = acc.summary();
    return {
      key: layout.key,
      ...(layout.module ? { module: layout.module } : {}),
      shape: [state.items, ...layout.shape],
      axis,
      neurons,
      // A neuron with NaN values is not known to be dead: its NaN items might have activated it.
      dead: neurons.filter((n) => n.fractionActive === 0 && n.nan === 0).map((n) => n.index),
    };
  });
  return { items: state.items, topK: state.topK, layers, skipped: state.skipped };
}

export async function computeNeuronStats(
  model: NeurotapModel,
  source: DataSource,
  options: NeuronStatsOptions = {},
): Promise<NeuronStatsReport> {
  return neuronStatsReport(await accumulateNeuronStats(model, source, options));
}
