/**
 * Statistics across shards: `neurotap stats --shard I/3 --out part-I.json` in three processes at
 * once, then `neurotap stats merge`, gives the report of one unsharded run: every count, NaN
 * count, min, max, active fraction, dead list and top-k item exactly, mean and std to 1e-12
 * relative. Mismatched, duplicated and missing parts are typed errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NeuronStatsReport } from '../src/dataset/index.js';
import { NeuronAccumulator } from '../src/dataset/neuron-accumulator.js';
import { cli, DIGITS_CNN, writeDigitsNpy, type Run } from './helpers/dataset.js';

let tmp: string;
let npy: string;
const at = (name: string) => join(tmp, name);
const statsArgs = (...extra: string[]) => [
  'stats',
  DIGITS_CNN,
  '--inputs',
  npy,
  '--batch-size',
  '16',
  '--top-k',
  '4',
  '--threads',
  '1',
  '--json',
  ...extra,
];
const ok = (run: Run, what: string) => assert.equal(run.code, 0, `${what}: ${run.stdout}${run.stderr}`);
const errorOf = (run: Run) => {
  assert.equal(run.code, 2, run.stderr);
  return JSON.parse(run.stdout).error as { code: string; message: string };
};
const merge = (...parts: string[]) => cli('stats', 'merge', ...parts.map(at), '--json');
const readReport = (name: string) => JSON.parse(readFileSync(at(name), 'utf8')) as NeuronStatsReport;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-stats-shards-'));
  npy = at('items.npy');
  writeDigitsNpy(npy, 200, 3); // 13 batches of 16 (the last 8): shards of 4, 4 and 5 batches
  const runs = await Promise.all([
    cli(...statsArgs('--out', at('full.json'))),
    ...[0, 1, 2].map((i) => cli(...statsArgs('--shard', `${i}/3`, '--out', at(`part-${i}.json`)))),
  ]);
  runs.forEach((r, i) => ok(r, `run ${i}`));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** |a - b| within 1e-12 of the larger magnitude (exactly equal when both are 0). */
function closeRelative(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
}

describe('neurotap stats merge', () => {
  it('equals the unsharded run, field for field', async () => {
    const parts = [0, 1, 2].map((i) => at(`part-${i}.json`));
    ok(await cli('stats', 'merge', ...parts, '--out', at('merged.json')), 'merge');
    const full = readReport('full.json');
    const merged = readReport('merged.json');
    assert.equal(full.items, 200);
    assert.deepEqual([merged.items, merged.topK, merged.skipped], [full.items, full.topK, full.skipped]);
    assert.deepEqual(
      merged.layers.map((l) => l.key),
      ['conv1', 'relu1', 'conv2', 'relu2', 'pool', 'flatten', 'fc1', 'relu3', 'fc2'],
    );
    assert.equal(merged.layers.length, full.layers.length);
    let neurons = 0;
    merged.layers.forEach((m, li) => {
      const f = full.layers[li];
      assert.deepEqual([m.key, m.module, m.shape, m.axis, m.dead], [f.key, f.module, f.shape, f.axis, f.dead]);
      m.neurons.forEach((n, j) => {
        const g = f.neurons[j];
        const what = `${m.key}[${j}]`;
        assert.deepEqual(
          [n.index, n.count, n.nan, n.min, n.max, n.fractionActive, n.top],
          [g.index, g.count, g.nan, g.min, g.max, g.fractionActive, g.top],
          what,
        );
        closeRelative(n.mean, g.mean, `${what} mean`);
        closeRelative(n.std, g.std, `${what} std`);
        neurons++;
      });
    });
    assert.equal(neurons, 8 + 8 + 16 + 16 + 16 + 256 + 32 + 32 + 10);
    // Dead ReLU units: every response is 0, so their top-k are the first items, from shard 0 alone.
    const dead = merged.layers.find((l) => l.key === 'relu3')!;
    assert.ok(dead.dead.length > 0);
    assert.deepEqual(
      dead.neurons[dead.dead[0]].top.map((t) => t.id),
      ['0', '1', '2', '3'],
    );
    // The same merge as CSV: the rows an unsharded --out stats.csv has.
    ok(await cli('stats', 'merge', ...parts, '--out', at('merged.csv')), 'merge csv');
    assert.equal(readFileSync(at('merged.csv'), 'utf8').split('\n').length, neurons + 2);
  });

  it('refuses a missing shard, a shard given twice, another job and a report', async () => {
    const missing = errorOf(await merge('part-0.json', 'part-2.json'));
    assert.equal(missing.code, 'E_BAD_ARGUMENT');
    assert.match(missing.message, /all 3 shards; shard 1 is missing/);
    const twice = errorOf(await merge('part-0.json', 'part-1.json', 'part-1.json'));
    assert.match(twice.message, /both shard 1 of 3/);
    // A part of another job: shard 1 with another top-k.
    ok(await cli(...statsArgs('--shard', '1/3', '--top-k', '3', '--out', at('other-1.json'))), 'other');
    const other = errorOf(await merge('part-0.json', 'other-1.json', 'part-2.json'));
    assert.equal(other.code, 'E_BAD_ARGUMENT');
    assert.match(other.message, /other-1\.json is a part of another job than .*part-0\.json: job\.options\.topK is 3/);
    const report = errorOf(await merge('full.json'));
    assert.equal(report.code, 'E_BAD_FILE');
    assert.match(report.message, /Expected a neurotap stats part in .*full\.json/);
    const noOut = errorOf(await cli(...statsArgs('--shard', '0/3')));
    assert.equal(noOut.code, 'E_OUTPUT_PATH');
    const help = await cli('stats', 'merge', '--help');
    assert.match(help.stdout, /USAGE stats merge \[OPTIONS\] <PARTS>/);
    writeFileSync(at('broken.json'), '{"format": "neurotap.stats-part/1", ');
    assert.equal(errorOf(await merge('broken.json')).code, 'E_BAD_FILE');
  });
});

describe('NeuronAccumulator.merge', () => {
  it('merges states that went through JSON as one pass over the same values', () => {
    // [items, 3 neurons, 2 positions] with NaNs, ties and an all-negative neuron.
    const n = 23;
    const data = Float32Array.from({ length: n * 6 }, (_, i) => {
      const [item, j] = [Math.floor(i / 6), Math.floor((i % 6) / 2)];
      if (j === 0) return item % 5 === 0 ? Number.NaN : Math.sin(i) * 1e3 + 1e4;
      if (j === 1) return item % 3; // ties: responses 0, 1, 2 repeat
      return -1 - (i % 7);
    });
    const ids = Array.from({ length: n }, (_, i) => `item-${i}`);
    const batch = (a: number, b: number) => ({
      type: 'float32' as const,
      dims: [b - a, 3, 2],
      data: data.subarray(a * 6, b * 6),
    });
    const one = new NeuronAccumulator([3, 2], 1, 4);
    for (const [a, b] of [
      [0, 5],
      [5, 10],
      [10, 15],
      [15, 20],
      [20, 23],
    ])
      one.add(batch(a, b), ids.slice(a, b), a);
    const parts = [
      [0, 10],
      [10, 20],
      [20, 23],
    ].map(([a, b]) => {
      const acc = new NeuronAccumulator([3, 2], 1, 4);
      acc.add(batch(a, Math.min(b, a + 5)), ids.slice(a, Math.min(b, a + 5)), a);
      if (b > a + 5) acc.add(batch(a + 5, b), ids.slice(a + 5, b), a + 5);
      return NeuronAccumulator.fromState([3, 2], 1, 4, JSON.parse(JSON.stringify(acc.state())));
    });
    const merged = parts[0];
    merged.merge(parts[1]);
    merged.merge(parts[2]);
    const [expected, actual] = [one.summary(), merged.summary()];
    actual.forEach((m, j) => {
      const e = expected[j];
      assert.deepEqual(
        [m.count, m.nan, m.min, m.max, m.fractionActive, m.top],
        [e.count, e.nan, e.min, e.max, e.fractionActive, e.top],
      );
      closeRelative(m.mean, e.mean, `mean ${j}`);
      closeRelative(m.std, e.std, `std ${j}`);
    });
    assert.deepEqual(
      actual[1].top.map((t) => t.id),
      ['item-2', 'item-5', 'item-8', 'item-11'],
    );
    assert.equal(actual[0].nan, 10);
    assert.equal(actual[2].fractionActive, 0);
  });
});
