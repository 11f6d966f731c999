/**
 * `neurotap extract MODEL --inputs DATA --out store.zarr`: the data-set form of extract. Runs every
 * item in batches and streams each captured key into one array (items first), with a progress
 * bar on a terminal, `--chunk-size`, `--resume` and `--shard INDEX/COUNT` for Zarr stores.
 */
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { WriteDatasetResult } from '../node/dataset/write-dataset.js';
import { isSet, lastValue, parseInteger, type ScannedFlags } from './argv.js';
import { shardOf } from './flags.js';
import { batchSizeOf, chunkSizeOf, openModelFromFlags, openSourceFromFlags, selectionOf } from './dataset-args.js';
import { progressBar } from './dataset-progress.js';
import { formatColumns, formatShape, stylesFor } from './format.js';
import type { ImageFlags } from './inputs.js';
import { note } from './print-error.js';
import { s3OptionsOf } from './s3-flags.js';
import { MAX_WORKERS } from '../node/dataset/worker-pool.js';

/** Flags of single-input extract that mean nothing for a data set. */
const SINGLE_ONLY = ['input', 'random', 'seed', 'dim', 'stack-calls'];

function checkFlags(flags: ScannedFlags): string {
  const clash = SINGLE_ONLY.find((f) => flags.values.has(f));
  if (clash) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `--${clash} is for one input and --inputs for a data set; give one of them.`,
      {
        hint: 'neurotap extract MODEL --inputs DATA --out store.zarr, or neurotap extract MODEL --input FILE.',
      },
    );
  }
  if (lastValue(flags, 'inputs') === undefined) {
    const used = ['batch-size', 'chunk-size', 'resume', 'shard', 'workers']
      .filter((f) => flags.values.has(f))
      .map((f) => `--${f}`)
      .join(', ');
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `${used} ${used.includes(',') ? 'apply' : 'applies'} to data sets, given with --inputs.`,
      { hint: 'Add --inputs DATA (a directory, glob, list file, .npy, .npz or .jsonl).' },
    );
  }
  const out = lastValue(flags, 'out');
  if (out === undefined) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      'A data-set extraction needs --out: store.zarr, acts.safetensors, or a directory ending in /.',
      {
        hint: 'Zarr (store.zarr) supports --resume, --shard and `neurotap verify`.',
      },
    );
  }
  return out;
}

/**
 * `--workers N`; by default one per core, except where the user chose the session's threads or
 * execution providers (`--threads`, `--ep`): the workers' sessions are one-thread CPU sessions.
 */
function workersOf(flags: ScannedFlags): number {
  const text = lastValue(flags, 'workers');
  if (text !== undefined) return parseInteger(text, 'workers', 1, MAX_WORKERS);
  return flags.values.has('threads') || flags.values.has('ep') ? 1 : availableParallelism();
}

function summaryText(modelPath: string, inputs: string, r: WriteDatasetResult, seconds: number): string {
  const s = stylesFor(process.stdout);
  const rows = r.keys.map((k) => [k.key, k.array, formatShape(k.shape), k.dtype]);
  const resumed = r.chunks.skipped ? `, ${r.chunks.skipped} already complete` : '';
  return [
    `${s.dim('model ')}  ${modelPath}`,
    `${s.dim('inputs')}  ${inputs} (${r.items} items)`,
    '',
    ...formatColumns([['key', 'array', 'shape', 'dtype'].map(s.bold), ...rows]),
    '',
    `wrote ${r.chunks.written} of ${r.chunks.total} chunks of ${r.chunks.size} items${resumed} to ${r.path} (${r.format}) in ${seconds.toFixed(1)} s`,
  ].join('\n');
}

/**
 * Interrupting is safe (every file is renamed into place complete): on Ctrl-C, say how to
 * continue, then let the signal end the process as it would have.
 */
function onInterrupt(format: string): () => void {
  const handler = () => {
    process.stderr.write(
      `\ninterrupted: completed chunks are kept${format === 'zarr' ? '; rerun with --resume to continue' : ''}\n`,
    );
    process.kill(process.pid, 'SIGINT');
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

export async function extractDatasetCommand(modelPath: string, flags: ScannedFlags, image: ImageFlags): Promise<void> {
  const out = checkFlags(flags);
  const json = isSet(flags, 'json');
  const { writeDataset, datasetFormat } = await import('../node/dataset/write-dataset.js');
  const format = await datasetFormat(out);
  const shard = shardOf(flags);
  const chunkSize = chunkSizeOf(flags);
  const s3 = s3OptionsOf(flags, out);
  const options = {
    ...selectionOf(flags),
    batchSize: batchSizeOf(flags),
    resume: isSet(flags, 'resume'),
    overwrite: isSet(flags, 'overwrite'),
    modelFile: basename(modelPath),
    ...(chunkSize !== undefined ? { chunkSize } : {}),
    ...(shard !== undefined ? { shard } : {}),
    ...(s3 !== undefined ? { s3 } : {}),
    workers: workersOf(flags),
    modelPath,
  };
  const model = await openModelFromFlags(modelPath, flags);
  const source = await openSourceFromFlags(model, flags, image);
  const bar = progressBar('extract', json);
  const stopListening = onInterrupt(format);
  const started = performance.now();
  try {
    const result = await writeDataset(model, source, out, {
      ...options,
      onProgress: (p) => bar.update(p.items, p.totalItems),
    });
    bar.done();
    const seconds = (performance.now() - started) / 1000;
    for (const s of result.skippedKeys) note(`${s.key} is not stored: ${s.reason}`, json);
    const itemsPerSecond = seconds > 0 ? result.itemsWritten / seconds : 0;
    const text = json
      ? JSON.stringify({ model: modelPath, inputs: source.describe(), ...result, seconds, itemsPerSecond }, null, 2)
      : summaryText(modelPath, lastValue(flags, 'inputs')!, result, seconds);
    process.stdout.write(`${text}\n`);
  } finally {
    bar.done();
    stopListening();
    await source.close?.();
    await model.release();
  }
}
