/**
 * The CLI's one parser (node:util parseArgs driven by each command's flag table): repeated flags
 * keep every value, unknown flags and commands are refused with the nearest names, negative
 * numbers are values, and the commands that share a flag share its definition.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArgsDef } from 'citty';
import { scanFlags } from '../src/cli/argv.js';
import { FLAGS } from '../src/cli/flags.js';
import { NeurotapError, isNeurotapError } from '../src/errors.js';
import { describeError } from '../src/cli/print-error.js';

const defs = {
  model: FLAGS.model,
  input: FLAGS.input,
  layers: FLAGS.layers,
  axis: { type: 'string' },
  json: { type: 'boolean' },
  open: { type: 'boolean' },
} satisfies ArgsDef;

describe('scanFlags', () => {
  it('keeps every value of a repeated flag, in order, from long, short and = forms', () => {
    const flags = scanFlags(['m.onnx', '--input', 'a.npy', '-i', 'b.npy', '--input=c.npy', '--json'], defs, 'x');
    assert.deepEqual(flags.values.get('input'), ['a.npy', 'b.npy', 'c.npy']);
    assert.deepEqual(flags.values.get('json'), ['true']);
    assert.deepEqual(flags.positionals, ['m.onnx']);
  });

  it('reads --no-FLAG as false, a negative number as a value, and everything after -- as positionals', () => {
    const flags = scanFlags(['--no-open', '--axis', '-1', '--', '--layers'], defs, 'x');
    assert.deepEqual(flags.values.get('open'), ['false']);
    assert.deepEqual(flags.values.get('axis'), ['-1']);
    assert.deepEqual(flags.positionals, ['--layers']);
  });

  it('refuses an unknown flag naming the nearest one, and a flag without its value', () => {
    assert.throws(
      () => scanFlags(['--layer', 'fc1'], defs, 'extract'),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /Unknown option '--layer'.*did you mean --layers/.test(e.message),
    );
    assert.throws(
      () => scanFlags(['--layers'], defs, 'extract'),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /--layers.*argument missing/.test(e.message),
    );
  });
});

describe('the commands', () => {
  it('share one definition of each common flag', async () => {
    const args = async (name: string) =>
      (await import(`../src/cli/commands/${name}.js`)).default.args as Record<string, unknown>;
    const [extract, report, stats] = await Promise.all(['extract', 'report', 'stats'].map(args));
    for (const flag of ['model', 'layers', 'threads']) {
      assert.equal(extract[flag], FLAGS[flag as keyof typeof FLAGS], `extract ${flag}`);
      assert.equal(report[flag], extract[flag], `report ${flag}`);
      assert.equal(stats[flag], extract[flag], `stats ${flag}`);
    }
    for (const flag of ['input', 'random', 'seed', 'dim']) assert.equal(report[flag], extract[flag], flag);
  });

  it('an unknown command names the nearest one (exit 2)', async () => {
    const { main } = await import('../src/cli/main.js');
    const write = process.stderr.write;
    let text = '';
    process.stderr.write = ((chunk: string) => {
      text += chunk;
      return true;
    }) as typeof process.stderr.write;
    try {
      assert.equal(await main(['extrat', 'model.onnx']), 2);
    } finally {
      process.stderr.write = write;
    }
    assert.match(text, /Unknown command 'extrat' \(did you mean extract\?\)/);
  });
});

describe('error output', () => {
  it('spells a library option in a hint as the flag that sets it', () => {
    const err = new NeurotapError('E_OUTPUT_PATH', 'Store holds another job.', {
      hint: 'Write to a new path, or set overwrite: true to replace the store.',
    });
    assert.equal(describeError(err).hint, 'Write to a new path, or pass --overwrite to replace the store.');
  });
});
