/**
 * `neurotap stats MODEL --inputs DATA`: one streaming pass over a data set, per-neuron count,
 * mean, std, min, max, fraction of items that activate it, the top-k items, and dead neurons;
 * a short table on the terminal, the whole report as JSON or CSV with --out.
 */
import { extname } from 'node:path';
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import { flagCommand, isSet, lastValue, parseInteger, type ScannedFlags } from '../argv.js';
import { FLAGS } from '../flags.js';
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
    description: 'Write the report: .json (everything) or .csv (one row per neuron)',
  },
  json: { type: 'boolean', description: 'Print the report as JSON instead of the table' },
  threads: FLAGS.threads,
  ep: FLAGS.ep,
  ...IMAGE_ARGS,
} satisfies ArgsDef;

export default flagCommand(
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

function outputFormat(out: string | undefined): 'json' | 'csv' | undefined {
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

async function stats(modelPath: string, flags: ScannedFlags): Promise<void> {
  const json = isSet(flags, 'json');
  const out = lastValue(flags, 'out');
  const format = outputFormat(out);
  const axis = parseAxis(flags);
  const topK = parseInteger(lastValue(flags, 'top-k') ?? '5', 'top-k', 0, 10_000);
  const model = await openModelFromFlags(modelPath, flags);
  const source = await openSourceFromFlags(model, flags, imageFlags(flags)).catch(async (err) => {
    await model.release();
    throw err;
  });
  const bar = progressBar('stats', json);
  try {
    const { computeNeuronStats } = await import('../../dataset/compute-neuron-stats.js');
    const { statsToCsv, statsToJson } = await import('../../dataset/stats-serialize.js');
    const options = {
      ...selectionOf(flags),
      outputs: false,
      batchSize: batchSizeOf(flags),
      topK,
      ...(axis !== undefined ? { axis } : {}),
    };
    const report = await computeNeuronStats(model, source, {
      ...options,
      onProgress: (p) => bar.update(p.items, p.totalItems),
    });
    bar.done();
    if (out !== undefined) {
      const { writeFileAtomic } = await import('../../node/files.js');
      await writeFileAtomic(
        out,
        new TextEncoder().encode(format === 'csv' ? statsToCsv(report) : `${statsToJson(report)}\n`),
      );
    }
    const text = json
      ? JSON.stringify({ model: modelPath, ...report, written: out ?? null }, null, 1)
      : statsText(modelPath, report, out).join('\n');
    process.stdout.write(`${text}\n`);
  } finally {
    bar.done();
    await source.close?.();
    await model.release();
  }
}
