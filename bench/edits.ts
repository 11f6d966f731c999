/**
 * Bench case for interventions: activation patching swept over the 12 blocks' MLPs of the toy GPT
 * fixture (one run per layer, each patching that layer from a clean run), against 12 plain runs.
 * The sweep lists every layer as `editable`, so the 12 runs share one session and feed tensors.
 */
import { join } from 'node:path';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel, patchFrom } from '../src/node/index.js';
import { readFileSync } from 'node:fs';
import type { Stats } from './cases.js';

export async function patchingSweepCase(
  root: string,
  threads: number,
  interleaved: (variants: Record<string, () => Promise<unknown>>) => Promise<Record<string, Stats>>,
) {
  const dir = join(root, 'fixtures', 'edits-gpt');
  // The fixture's 2 sequences repeated to a batch of 32 prompts, as a patching experiment runs them.
  const read = (file: string) => {
    const ids = parseNpz(new Uint8Array(readFileSync(join(dir, file)))).get('ids')!;
    const data = ids.data as BigInt64Array;
    return {
      ids: { data: BigInt64Array.from({ length: data.length * 16 }, (_, i) => data[i % data.length]), dims: [32, 8] },
    };
  };
  const model = await loadModel(join(dir, 'model.onnx'), { threads });
  const feeds = read('input.npz');
  const layers = Array.from({ length: 12 }, (_, i) => `h.${i}.mlp`);
  const clean = await model.capture(read('clean.npz'), { layers });
  const s = await interleaved({
    plain: async () => {
      for (let i = 0; i < layers.length; i++) await model.run(feeds);
    },
    sweep: async () => {
      for (const layer of layers)
        await model.capture(feeds, { layers: [], editable: layers, edit: { [layer]: patchFrom(clean) } });
    },
  });
  await model.release();
  return {
    case: 'toy GPT: patching sweep over 12 layers (one session)',
    ours: s.sweep,
    baseline: '12 plain runs',
    baselineMs: s.plain.median,
    ratio: s.sweep.median / s.plain.median,
    target: '≤ 1.2',
  };
}
