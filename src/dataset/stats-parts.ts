/**
 * Neuron statistics across shards (isomorphic): each shard writes its running sums as a part
 * (`neurotap stats ... --shard I/N --out part-I.json`), and `mergeStatsParts` combines every
 * shard's part into the report one unsharded pass gives: counts, NaNs, min/max, active counts
 * and top-k exactly, mean and std to float64 rounding (Chan et al.'s merge of float64 sums).
 *
 * ```ts
 * const part = statsPart(await accumulateNeuronStats(model, source, { shard }), job, shard, range);
 * const report = mergeStatsParts([part0, part1, part2]);
 * ```
 *
 * A part records the job (model hash, inputs, their contents, item ids, options, shard count,
 * neurotap version); parts of different jobs, a shard given twice and a missing shard are
 * refused, so a merge can never mix data sets or count items twice.
 */
import { NeurotapError } from '../errors.js';
import {
  neuronStatsReport,
  type LayerAccumulator,
  type NeuronStatsReport,
  type NeuronStatsState,
} from './compute-neuron-stats.js';
import { chunkCount } from './chunks.js';
import { firstDifference } from './manifest.js';
import { NeuronAccumulator, type NeuronAccumulatorState } from './neuron-accumulator.js';
import type { KeyLayout, Shard, SourceDescription } from './types.js';

export const STATS_PART_FORMAT = 'neurotap.stats-part/1';

/** What every part of one job has in common; merging requires it to be equal, field for field. */
export interface StatsJob {
  neurotap: string;
  model: { sha256: string };
  source: SourceDescription;
  /** Content fingerprints of the input files by path (as a store's manifest has them). */
  data: Record<string, string>;
  /** The item count, and the SHA-256 of the item ids joined by newlines: the same items in the same order. */
  items: { count: number; idsSha256: string };
  options: {
    layers: unknown;
    reduce: unknown;
    inputsOfModules: boolean;
    dequantize: boolean;
    axis: number | null;
    topK: number;
    batchSize: number;
  };
  shards: number;
}

export interface StatsPartLayer {
  layout: KeyLayout;
  axis: number;
  /** Items kept per neuron (topK, at most the item count). */
  kept: number;
  state: NeuronAccumulatorState;
}

export interface StatsPart {
  format: string;
  job: StatsJob;
  shard: Shard;
  /** The items [start, end) this shard covered. */
  items: [number, number];
  skipped: { key: string; reason: string }[];
  layers: StatsPartLayer[];
}

/**
 * The items [start, end) shard `shard` covers when chunks are `chunkSize` items (stats runs one
 * chunk per batch): its contiguous slice of the chunks, empty at the right place when it has none.
 */
export function shardItems(count: number, chunkSize: number, shard: Shard): [number, number] {
  const chunks = chunkCount(count, chunkSize);
  const bound = (i: number) => Math.min(count, Math.floor((i * chunks) / shard.count) * chunkSize);
  return [bound(shard.index), bound(shard.index + 1)];
}

export function statsPart(state: NeuronStatsState, job: StatsJob, shard: Shard, items: [number, number]): StatsPart {
  return {
    format: STATS_PART_FORMAT,
    job,
    shard: { index: shard.index, count: shard.count },
    items,
    skipped: state.skipped,
    layers: state.layers.map(({ layout, axis, acc }) => ({ layout, axis, kept: acc.topK, state: acc.state() })),
  };
}

function badPart(name: string, what: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `Expected a neurotap stats part in ${name}; ${what}.`, {
    hint: 'Merge the parts that each shard of a sharded stats run wrote (statsPart); the report of an unsharded run cannot be merged.',
    details: { part: name },
  });
}

/** Checks what a merge relies on: the format, and per layer lists as long as its neurons. */
export function checkStatsPart(value: unknown, name: string): StatsPart {
  const part = value as StatsPart;
  if (typeof part !== 'object' || part === null || part.format !== STATS_PART_FORMAT)
    throw badPart(name, `it has format ${JSON.stringify(part?.format)}, not ${STATS_PART_FORMAT}`);
  if (!part.job || !part.shard || !Array.isArray(part.items) || !Array.isArray(part.layers))
    throw badPart(name, 'it lacks job, shard, items or layers');
  for (const layer of part.layers) {
    const neurons = layer.layout?.shape?.[layer.axis - 1];
    const s = layer.state;
    const lists = s && [s.count, s.nan, s.mean, s.m2, s.min, s.max, s.active, s.top];
    if (!Number.isSafeInteger(neurons) || !lists?.every((l) => Array.isArray(l) && l.length === neurons))
      throw badPart(name, `the statistics of '${layer.layout?.key}' do not have one entry per neuron`);
    if (s.top.some((kept) => kept.length > layer.kept))
      throw badPart(name, `'${layer.layout.key}' keeps too many items`);
  }
  return part;
}

function checkSameJob(parts: readonly StatsPart[], names: readonly string[]): void {
  for (let i = 1; i < parts.length; i++) {
    const diff = firstDifference(parts[i].job, parts[0].job, 'job');
    if (!diff) continue;
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `${names[i]} is a part of another job than ${names[0]}: ${diff.path} is ${JSON.stringify(diff.existing)} there and ${JSON.stringify(diff.expected)} in ${names[0]}.`,
      {
        hint: 'Merge the parts of one run: the same model, inputs, options, shard count and neurotap version in every shard.',
        details: { path: diff.path, parts: [names[0], names[i]], values: [diff.expected, diff.existing] },
      },
    );
  }
}

/** Every shard exactly once, and their item ranges tiling the data set. */
function checkShards(parts: readonly StatsPart[], names: readonly string[]): StatsPart[] {
  const count = parts[0].job.shards;
  const byIndex = new Map<number, number>();
  parts.forEach((p, i) => {
    const twice = byIndex.get(p.shard.index);
    if (twice !== undefined)
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `${names[twice]} and ${names[i]} are both shard ${p.shard.index} of ${count}.`,
        {
          hint: "Give each shard's part once: its items would be counted twice.",
          details: { shard: p.shard.index, parts: [names[twice], names[i]] },
        },
      );
    byIndex.set(p.shard.index, i);
  });
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length)
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected the parts of all ${count} shards; shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing.`,
      {
        hint: 'Run the missing shards and merge the parts of all of them.',
        details: { missing, shards: count },
      },
    );
  const ordered = Array.from({ length: count }, (_, i) => parts[byIndex.get(i)!]);
  let next = 0;
  for (const p of ordered) {
    if (p.items[0] !== next || p.items[1] < p.items[0])
      throw badPart(
        names[parts.indexOf(p)],
        `shard ${p.shard.index} covers items ${p.items.join('..')}, not from ${next}`,
      );
    next = p.items[1];
  }
  if (next !== parts[0].job.items.count)
    throw badPart(names[0], `the shards cover ${next} of ${parts[0].job.items.count} items`);
  return ordered;
}

function accumulatorOf(layer: StatsPartLayer): NeuronAccumulator {
  return NeuronAccumulator.fromState(layer.layout.shape, layer.axis, layer.kept, layer.state);
}

/** Combines every shard's part (in shard order) into the report of one pass over the whole data set. */
export function mergeStatsParts(parts: readonly StatsPart[], names?: readonly string[]): NeuronStatsReport {
  const labels = names ?? parts.map((_, i) => `part ${i}`);
  if (parts.length === 0)
    throw new NeurotapError('E_BAD_ARGUMENT', 'Expected at least one stats part to merge; got none.', {
      hint: 'neurotap stats merge part-*.json',
    });
  parts.forEach((p, i) => checkStatsPart(p, labels[i]));
  checkSameJob(parts, labels);
  const ordered = checkShards(parts, labels);
  // A shard with no chunks ran no batch, so it has no layers; the others agree on theirs.
  const full = ordered.filter((p) => p.items[1] > p.items[0]);
  const first = full[0];
  const layers: LayerAccumulator[] = first.layers.map((l) => ({
    layout: l.layout,
    axis: l.axis,
    acc: accumulatorOf(l),
  }));
  for (const part of full.slice(1)) {
    const name = labels[parts.indexOf(part)];
    const same = JSON.stringify(part.layers.map((l) => [l.layout, l.axis, l.kept]));
    if (same !== JSON.stringify(first.layers.map((l) => [l.layout, l.axis, l.kept])))
      throw badPart(name, `its keys, shapes or neuron axes differ from ${labels[parts.indexOf(first)]}'s`);
    part.layers.forEach((l, i) => layers[i].acc.merge(accumulatorOf(l)));
  }
  const items = ordered.reduce((n, p) => n + p.items[1] - p.items[0], 0);
  return neuronStatsReport({ items, topK: first.job.options.topK, layers, skipped: first.skipped });
}
