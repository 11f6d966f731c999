/**
 * The terminal view of `neurotap stats`: one row per layer (neurons, dead, and the spread of the
 * per-neuron numbers), then which neurons are dead and which neuron each layer's top item excites
 * most. The per-neuron detail is in --out / --json.
 */
import type { NeuronStatsReport } from '../dataset/compute-neuron-stats.js';
import type { Shard } from '../dataset/types.js';
import { formatColumns, formatNumber, formatShape, stylesFor } from './format.js';

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

function layerRow(layer: NeuronStatsReport['layers'][number]): string[] {
  const n = layer.neurons;
  const dead = layer.dead.length;
  return [
    layer.key,
    formatShape(layer.shape),
    String(layer.axis),
    String(n.length),
    dead ? String(dead) : '0',
    formatNumber(mean(n.map((x) => x.mean))),
    formatNumber(mean(n.map((x) => x.std))),
    formatNumber(Math.min(...n.map((x) => x.min))),
    formatNumber(Math.max(...n.map((x) => x.max))),
    `${(100 * mean(n.map((x) => x.fractionActive))).toFixed(1)}%`,
  ];
}

/** The neuron with the largest top response, and the item that gives it. */
function strongest(layer: NeuronStatsReport['layers'][number]): string {
  let best: { neuron: number; id: string; value: number } | undefined;
  for (const n of layer.neurons)
    if (n.top[0] && (!best || n.top[0].value > best.value)) best = { neuron: n.index, ...n.top[0] };
  return best ? `neuron ${best.neuron}: ${formatNumber(best.value)} on ${best.id}` : 'no item activates it';
}

/** `origin`: the model path, or what a merged report came from ('parts', 'part-0.json, ...'). */
export function statsText(
  origin: string | [label: string, text: string],
  report: NeuronStatsReport,
  written: string | undefined,
  shard?: Shard,
): string[] {
  const [label, text] = typeof origin === 'string' ? ['model', origin] : origin;
  const s = stylesFor(process.stdout);
  const head = ['key', 'shape', 'axis', 'neurons', 'dead', 'mean', 'std', 'min', 'max', 'active'].map(s.bold);
  const table = formatColumns([head, ...report.layers.map(layerRow)], [2, 3, 4, 5, 6, 7, 8, 9]);
  const items = shard ? `${report.items} (shard ${shard.index} of ${shard.count})` : String(report.items);
  const lines = [`${s.dim(label)}  ${text}`, `${s.dim('items')}  ${items}`, '', ...table, ''];
  for (const layer of report.layers) {
    const dead = layer.dead.length
      ? s.yellow(`dead ${layer.dead.slice(0, 12).join(', ')}${layer.dead.length > 12 ? ', ...' : ''}`)
      : s.dim('no dead neurons');
    lines.push(`${layer.key}: ${dead}; strongest ${strongest(layer)}`);
  }
  for (const k of report.skipped) lines.push(s.dim(`${k.key}: skipped, ${k.reason}`));
  lines.push(
    '',
    s.dim(
      'mean and std average the per-neuron values; active is the mean share of items with response > 0 (max over the other axes)',
    ),
  );
  if (written)
    lines.push(shard ? `wrote this shard's part to ${written} (merge: neurotap stats merge)` : `wrote ${written}`);
  return lines;
}
