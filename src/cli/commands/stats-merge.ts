/**
 * `neurotap stats merge part-*.json [--out stats.json]`: the report of a sharded `neurotap stats`
 * run, from every shard's part; the same numbers one unsharded run gives (see stats-parts.ts).
 */
import { defineCommand, type ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import type { StatsPart } from '../../dataset/stats-parts.js';
import { isSet, lastValue, scanFlags, type FlagCommand } from '../argv.js';
import { statsText } from '../stats-view.js';
import { outputFormat } from './stats.js';

const args = {
  parts: {
    type: 'positional',
    required: true,
    description: 'The part of every shard: files written by neurotap stats ... --shard I/N --out part-I.json',
  },
  out: {
    type: 'string',
    alias: 'o',
    valueHint: 'PATH',
    description: 'Write the merged report: .json (everything) or .csv (one row per neuron)',
  },
  json: { type: 'boolean', description: 'Print the merged report as JSON instead of the table' },
  debug: { type: 'boolean', description: 'Print stack traces with errors' },
} satisfies ArgsDef;
const argsDef: ArgsDef = args;

async function readPart(path: string): Promise<StatsPart> {
  const { readFileBytes } = await import('../../node/files.js');
  const text = new TextDecoder().decode(await readFileBytes(path, 'a stats part'));
  try {
    return JSON.parse(text) as StatsPart;
  } catch (cause) {
    throw new NeurotapError('E_BAD_FILE', `Expected JSON in the stats part ${path}; ${(cause as Error).message}.`, {
      hint: 'A part is written whole by neurotap stats --shard I/N --out part-I.json; write it again.',
      cause,
    });
  }
}

async function merge(paths: readonly string[], out: string | undefined, json: boolean): Promise<void> {
  if (paths.length === 0)
    throw new NeurotapError('E_BAD_ARGUMENT', 'neurotap stats merge needs the parts to merge; got none.', {
      hint: 'neurotap stats merge part-*.json --out stats.json',
    });
  const format = outputFormat(out);
  const { mergeStatsParts } = await import('../../dataset/stats-parts.js');
  const parts = await Promise.all(paths.map(readPart));
  const report = mergeStatsParts(parts, paths);
  if (out !== undefined) {
    const { statsToCsv, statsToJson } = await import('../../dataset/stats-serialize.js');
    const { writeFileAtomic } = await import('../../node/files.js');
    const text = format === 'csv' ? statsToCsv(report) : `${statsToJson(report)}\n`;
    await writeFileAtomic(out, new TextEncoder().encode(text));
  }
  const text = json
    ? JSON.stringify({ parts: paths, ...report, written: out ?? null }, null, 1)
    : statsText(['parts', paths.join(', ')], report, out).join('\n');
  process.stdout.write(`${text}\n`);
}

export default {
  ...defineCommand({
    meta: { name: 'merge', description: "Merge the stats parts of every shard into one run's report" },
    args: argsDef,
  }),
  runWith: async (rawArgs: readonly string[]) => {
    const flags = scanFlags(rawArgs, argsDef, 'stats merge');
    await merge(flags.positionals, lastValue(flags, 'out'), isSet(flags, 'json'));
  },
} satisfies FlagCommand;
