/**
 * `neurotap stats MODEL --inputs DATA`: one streaming pass over a data set, per-neuron count,
 * mean, std, min, max, fraction of items that activate it, the top-k items, and dead neurons;
 * a short table on the terminal, the whole report as JSON or CSV with --out.
 */
import { extname } from 'node:path';
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import { flagCommand, isSet, lastValue, parseInteger, type FlagCommand, type ScannedFlags } from '../argv.js';
import { FLAGS, shardOf } from '../flags.js';
import type { NeurotapModel } from '../../model.js';
import type { NeuronStatsOptions, NeuronStatsReport, NeuronStatsState } from '../../dataset/compute-neuron-stats.js';
import type { DataSource, Shard } from '../../dataset/types.js';
import { batchSizeOf, openModelFromFlags, openSourceFromFlags, selectionOf } from '../dataset-args.js';
import { IMAGE_ARGS } from '../inputs.js';
import { imageFlags } from './extract.js';
import { progressBar } from '../dataset-progress.js';
import { statsText } from '../stats-view.js';

const args = {
  model: FLAGS.model,
  inputs: FLAGS.inputs,
  layers: FLAGS.layers,
  reduce: FLAGS.reduce,
  axis: {
    type: 'string',
    valueHint: 'N',
    description: 'Neuron axis, 0 being the item axis (default: 1 for conv-like layers and rank >= 4, else the last)',
  },
  'top-k': {
    type: 'string',
    valueHint: 'K',
    description: 'Items kept per neuron, by response (max over the other axes; default 5)',
  },
  'batch-size': FLAGS['batch-size'],
  out: {
    type: 'string',
    alias: 'o',
    valueHint: 'PATH',
    description:
      "Write the report: .json (everything) or .csv (one row per neuron); with --shard, this shard's part (.json) for stats merge",
  },
  json: { type: 'boolean', description: 'Print the report as JSON instead of the table' },
  shard: FLAGS.shard,
  threads: FLAGS.threads,
  ep: FLAGS.ep,
  ...IMAGE_ARGS,
} satisfies ArgsDef;

const statsCommand = flagCommand(
  {
    name: 'stats',
    description:
      'Per-neuron statistics over a data set in one streaming pass: mean, std, min, max, fraction active, top-k items, dead neurons',
  },
  args,
  'The data set goes after --inputs: neurotap stats MODEL --inputs DATA.',
  async (model, flags) => {
    await stats(model!, flags);
  },
);

/** `neurotap stats MODEL ...`, and `neurotap stats merge PART...` for the parts of a sharded run. */
export default {
  ...statsCommand,
  subCommands: { merge: () => import('./stats-merge.js').then((m) => m.default) },
  runWith: async (rawArgs: readonly string[]) =>
    rawArgs[0] === 'merge'
      ? (await import('./stats-merge.js')).default.runWith(rawArgs.slice(1))
      : statsCommand.runWith(rawArgs),
} satisfies FlagCommand;

/** The report's format from --out: .json or .csv. */
export function outputFormat(out: string | undefined): 'json' | 'csv' | undefined {
  if (out === undefined) return undefined;
  const ext = extname(out).toLowerCase();
  if (ext === '.json' || ext === '.csv') return ext.slice(1) as 'json' | 'csv';
  throw new NeurotapError('E_OUTPUT_PATH', `Expected --out to end in .json or .csv; got ${out}.`, {
    hint: 'E.g. --out stats.csv (one row per neuron) or --out stats.json.',
  });
}

function parseAxis(flags: ScannedFlags): number | undefined {
  const text = lastValue(flags, 'axis');
  return text === undefined ? undefined : parseInteger(text, 'axis', -64);
}

/** The report, or with --shard this shard's part (--out part-I.json) and the report of its items. */
async function stats(modelPath: string, flags: ScannedFlags): Promise<void> {
  const json = isSet(flags, 'json');
  const out = lastValue(flags, 'out');
  const shard = shardOf(flags);
  const format = shard ? partFormat(out) : outputFormat(out);
  const axis = parseAxis(flags);
  const topK = parseInteger(lastValue(flags, 'top-k') ?? '5', 'top-k', 0, 10_000);
  const model = await openModelFromFlags(modelPath, flags);
  const source = await openSourceFromFlags(model, flags, imageFlags(flags)).catch(async (err) => {
    await model.release();
    throw err;
  });
  const bar = progressBar('stats', json);
  try {
    const { accumulateNeuronStats, neuronStatsReport } = await import('../../dataset/compute-neuron-stats.js');
    const options = {
      ...selectionOf(flags),
      outputs: false,
      batchSize: batchSizeOf(flags),
      topK,
      ...(axis !== undefined ? { axis } : {}),
      ...(shard ? { shard } : {}),
    };
    const state = await accumulateNeuronStats(model, source, {
      ...options,
      onProgress: (p) => bar.update(p.items, p.totalItems),
    });
    bar.done();
    const report = neuronStatsReport(state);
    if (out !== undefined) {
      const bytes = shard
        ? await partBytes(model, source, options, state, shard)
        : await reportBytes(report, format as 'json' | 'csv');
      const { writeFileAtomic } = await import('../../node/files.js');
      await writeFileAtomic(out, bytes);
    }
    const text = json
      ? JSON.stringify({ model: modelPath, ...(shard ? { shard } : {}), ...report, written: out ?? null }, null, 1)
      : statsText(modelPath, report, out, shard).join('\n');
    process.stdout.write(`${text}\n`);
  } finally {
    bar.done();
    await source.close?.();
    await model.release();
  }
}

/** A shard's statistics are only useful merged: --out must name the part, a .json file. */
function partFormat(out: string | undefined): 'json' {
  if (out !== undefined && extname(out).toLowerCase() === '.json') return 'json';
  throw new NeurotapError(
    'E_OUTPUT_PATH',
    `With --shard, expected --out PART.json for this shard's part; got ${out === undefined ? 'no --out' : out}.`,
    {
      hint: 'neurotap stats MODEL --inputs DATA --shard I/N --out part-I.json on each shard, then neurotap stats merge part-*.json --out stats.json.',
    },
  );
}

async function reportBytes(report: NeuronStatsReport, format: 'json' | 'csv'): Promise<Uint8Array> {
  const { statsToCsv, statsToJson } = await import('../../dataset/stats-serialize.js');
  return new TextEncoder().encode(format === 'csv' ? statsToCsv(report) : `${statsToJson(report)}\n`);
}

async function partBytes(
  model: NeurotapModel,
  source: DataSource,
  options: NeuronStatsOptions & { batchSize: number },
  state: NeuronStatsState,
  shard: Shard,
): Promise<Uint8Array> {
  const { statsJob } = await import('../../node/dataset/stats-job.js');
  const { shardItems, statsPart } = await import('../../dataset/stats-parts.js');
  const job = await statsJob(model, source, options, shard.count);
  const part = statsPart(state, job, shard, shardItems(source.count, options.batchSize, shard));
  return new TextEncoder().encode(`${JSON.stringify(part)}\n`);
}
