/**
 * Neuron statistics: the streaming pass (batch moments merged with Chan's formula) agrees with
 * statistics computed directly from one capture of every item; the CLI writes CSV and JSON.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { arraySource, computeNeuronStats, defaultNeuronAxis, type NeuronStatsReport } from '../src/dataset/index.js';
import { loadModel, type NeurotapModel } from '../src/node/index.js';
import { cli, digitsLike, DIGITS_CNN, writeDigitsNpy } from './helpers/dataset.js';

const N = 300;
const image = { type: 'float32' as const, dims: [N, 1, 8, 8], data: digitsLike(N, 7) };
let model: NeurotapModel;
let tmp: string;

before(async () => {
  model = await loadModel(DIGITS_CNN, { threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'neurotap-stats-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Reference statistics of neuron j along axis 1 of a [N, C, ...] tensor, the plain way. */
function direct(dims: readonly number[], data: Float32Array, j: number, topK: number) {
  const [n, c] = dims;
  const inner = data.length / (n * c);
  const values: number[] = [];
  const responses: { item: number; value: number }[] = [];
  for (let i = 0; i < n; i++) {
    const slice = Array.from(data.subarray((i * c + j) * inner, (i * c + j + 1) * inner));
    values.push(...slice);
    responses.push({ item: i, value: Math.max(...slice) });
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const top = [...responses].sort((a, b) => b.value - a.value || a.item - b.item).slice(0, topK);
  return {
    count: values.length,
    mean,
    std,
    min: Math.min(...values),
    max: Math.max(...values),
    fractionActive: responses.filter((r) => r.value > 0).length / n,
    top: top.map((t) => ({ id: String(t.item), value: t.value })),
  };
}

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 + 1e-6 * Math.abs(b), `${what}: ${a} vs ${b}`);

describe('computeNeuronStats', () => {
  let report: NeuronStatsReport;
  before(async () => {
    report = await computeNeuronStats(model, arraySource({ image }), {
      layers: ['conv2', 'relu3'],
      batchSize: 7,
      topK: 4,
    });
  });

  it('matches statistics computed directly from the captured tensors', async () => {
    const acts = await model.capture({ image }, { layers: ['conv2', 'relu3'] });
    for (const layer of report.layers) {
      const t = acts.get(layer.key)!;
      assert.equal(layer.axis, 1);
      assert.equal(layer.neurons.length, t.dims[1]);
      for (const neuron of layer.neurons) {
        const ref = direct(t.dims, t.data as Float32Array, neuron.index, 4);
        const what = `${layer.key}[${neuron.index}]`;
        assert.equal(neuron.count, ref.count, what);
        for (const f of ['mean', 'std', 'min', 'max', 'fractionActive'] as const)
          close(neuron[f], ref[f], `${what}.${f}`);
        assert.deepEqual(neuron.top, ref.top, `${what}.top`);
      }
    }
  });

  it('lists as dead exactly the neurons no item made positive', () => {
    const relu3 = report.layers.find((l) => l.key === 'relu3')!;
    assert.deepEqual(
      relu3.dead,
      relu3.neurons.filter((n) => n.max <= 0).map((n) => n.index),
    );
    assert.ok(relu3.dead.length > 0, 'the digits CNN has dead units on random inputs');
  });

  it('gives the same numbers for any batch size (Chan merge)', async () => {
    const once = await computeNeuronStats(model, arraySource({ image }), { layers: ['conv2'], batchSize: N, topK: 4 });
    for (const [i, n] of once.layers[0].neurons.entries()) {
      const streamed = report.layers[0].neurons[i];
      for (const f of ['mean', 'std', 'min', 'max', 'fractionActive'] as const)
        close(streamed[f], n[f], `conv2[${i}].${f}`);
    }
  });

  it('takes the neuron axis from options, else from module type and rank', async () => {
    const rows = await computeNeuronStats(model, arraySource({ image }), {
      layers: ['conv2'],
      axis: 2,
      batchSize: 100,
    });
    assert.deepEqual([rows.layers[0].axis, rows.layers[0].neurons.length], [2, 8]);
    assert.deepEqual(
      [
        defaultNeuronAxis(4, 'ReLU'),
        defaultNeuronAxis(3, 'Conv1d'),
        defaultNeuronAxis(3, 'LSTM'),
        defaultNeuronAxis(2, 'Linear'),
      ],
      [1, 1, 2, 1],
    );
    await assert.rejects(computeNeuronStats(model, arraySource({ image }), { layers: ['fc1'], axis: 2 }), /axis 2/);
  });
});

describe('neurotap stats', () => {
  it('writes CSV, prints JSON, and a table on the terminal path', async () => {
    const npy = join(tmp, 'items.npy');
    writeDigitsNpy(npy, 64);
    const csv = join(tmp, 'stats.csv');
    const text = await cli('stats', DIGITS_CNN, '--inputs', npy, '--layers', 'fc1', '--top-k', '2', '--out', csv);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /fc1\s+\[64, 32\]\s+1\s+32/);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'key,neuron,count,nan,mean,std,min,max,fraction_active,dead,top_ids,top_values');
    assert.equal(lines.length, 33);
    const json = await cli('stats', DIGITS_CNN, '--inputs', npy, '--layers', 'conv1', '--json');
    const report = JSON.parse(json.stdout);
    assert.deepEqual(
      [report.items, report.layers[0].neurons.length, report.layers[0].neurons[0].count],
      [64, 8, 64 * 64],
    );
  });
});
