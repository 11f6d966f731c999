/**
 * The job a stats part belongs to (Node only: it hashes the model, the item ids and the input
 * files), so that `stats merge` can refuse parts of different runs.
 */
import { createHash } from 'node:crypto';
import { manifestIdentity } from '../../dataset/manifest.js';
import type { NeuronStatsOptions } from '../../dataset/compute-neuron-stats.js';
import type { StatsJob } from '../../dataset/stats-parts.js';
import type { DataSource } from '../../dataset/types.js';
import type { NeurotapModel } from '../../model.js';
import { packageVersion } from '../package-version.js';
import { fingerprintFiles } from './fingerprint.js';
import { sha256 } from './zarr-store.js';

export async function statsJob(
  model: NeurotapModel,
  source: DataSource,
  options: NeuronStatsOptions,
  shards: number,
): Promise<StatsJob> {
  const data = await fingerprintFiles(source.files?.() ?? []);
  const identity = manifestIdentity({
    model,
    source,
    options,
    data,
    version: packageVersion(),
    modelFile: 'model.onnx',
    modelSha256: sha256(model.bytes),
  });
  const ids = createHash('sha256');
  for (let i = 0; i < source.count; i++) ids.update(`${source.id(i)}\n`);
  const o = identity.options;
  return {
    neurotap: identity.neurotap,
    // The model by content: shards may find the same file under different paths.
    model: { sha256: identity.model.sha256 },
    source: identity.source,
    data,
    items: { count: source.count, idsSha256: ids.digest('hex') },
    options: {
      layers: o.layers,
      reduce: o.reduce,
      inputsOfModules: o.inputsOfModules,
      dequantize: o.dequantize,
      axis: options.axis ?? null,
      topK: options.topK ?? 5,
      batchSize: o.batchSize,
    },
    shards,
  };
}
