/**
 * `neurotap report MODEL --input FILE|--random --out report.html`: runs the model once in Node and
 * writes the viewer's pictures of every selected layer into one self-contained HTML file.
 */
import { requireObservable } from '../not-observable.js';
import { packageVersion } from '../../node/package-version.js';
import { basename, extname } from 'node:path';
import type { ArgsDef } from 'citty';
import { NeurotapError } from '../../errors.js';
import { writeFileAtomic } from '../../node/files.js';
import type { NeurotapModel } from '../../model.js';
import type { HostTensor, PlainTensor } from '../../tensor.js';
import { captureLayers } from '../../viewer-core/layer-data.js';
import { imageLayout } from '../../input-fit.js';
import { inTreeOrder, modulesInCallOrder } from '../../viewer-core/module-tree.js';
import { flagCommand, isSet, lastValue, type ScannedFlags } from '../argv.js';
import { dimSizesOf, FLAGS, layerSpecsOf, seedOf, threadsOf } from '../flags.js';
import { IMAGE_ARGS, loadInputFiles, parseInputFlag } from '../inputs.js';
import { imageFlags } from './extract.js';
import { openModel } from '../model-info.js';
import { checkParentDirectory } from '../output-path.js';
import { randomFeeds } from '../random.js';
import { note } from '../print-error.js';
import { renderReport, type ReportInputValue } from '../report-html.js';
import { inputImage } from '../report-images.js';

const args = {
  model: FLAGS.model,
  input: FLAGS.input,
  random: FLAGS.random,
  seed: FLAGS.seed,
  dim: FLAGS.dim,
  layers: FLAGS.layers,
  out: { type: 'string', alias: 'o', valueHint: 'PATH.html', description: 'The HTML file to write (required)' },
  json: { type: 'boolean', description: 'Print one JSON object about the report written' },
  threads: FLAGS.threads,
  ...IMAGE_ARGS,
} satisfies ArgsDef;

export default flagCommand(
  {
    name: 'report',
    description:
      'Run the model once and write the activations of every selected layer as pictures into one self-contained HTML file',
  },
  args,
  'Inputs go after --input: neurotap report MODEL --input FILE --out report.html.',
  async (model, flags) => {
    await report(model!, flags);
  },
);

async function checkOut(out: string | undefined): Promise<string> {
  if (out === undefined)
    throw new NeurotapError('E_BAD_ARGUMENT', 'report needs --out PATH.html, the file to write.', {
      hint: 'E.g. neurotap report MODEL --random --out report.html.',
    });
  if (!['.html', '.htm'].includes(extname(out).toLowerCase())) {
    throw new NeurotapError('E_OUTPUT_PATH', `Expected --out to end in .html; got ${out}.`, {
      hint: 'E.g. --out report.html.',
    });
  }
  await checkParentDirectory(out);
  return out;
}

interface Inputs {
  readonly feeds: Record<string, HostTensor>;
  readonly origin: Map<string, string>;
}

async function buildInputs(model: NeurotapModel, flags: ScannedFlags, json: boolean): Promise<Inputs> {
  const inputFlags = (flags.values.get('input') ?? []).map((text) => parseInputFlag(text, model.inputNames));
  const random = isSet(flags, 'random');
  if (inputFlags.length === 0 && !random) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      'report needs input data: --input FILE, --input NAME=FILE, or --random.',
      { hint: 'E.g. neurotap report MODEL --random --out report.html.' },
    );
  }
  const origin = new Map<string, string>();
  const feeds = await loadInputFiles(model, inputFlags, imageFlags(flags), (text) => note(text, json));
  for (const flag of inputFlags) {
    const named = new Set(inputFlags.map((f) => f.name));
    for (const name of flag.name ? [flag.name] : Object.keys(feeds).filter((n) => !named.has(n) && !origin.has(n)))
      origin.set(name, flag.path);
  }
  const rest = model.inputNames.filter((n) => !(n in feeds));
  if (!random || rest.length === 0) return { feeds, origin };
  const seed = seedOf(flags);
  const made = randomFeeds(model, rest, dimSizesOf(flags), seed);
  for (const name of rest) origin.set(name, `random normal values (seed ${seed})`);
  return { feeds: { ...feeds, ...made }, origin };
}

async function describeInputs(model: NeurotapModel, inputs: Inputs): Promise<ReportInputValue[]> {
  const out: ReportInputValue[] = [];
  for (const [name, t] of Object.entries(inputs.feeds)) {
    const layout = imageLayout(model.valueInfo(name));
    const image = layout && !Array.isArray(t.data) ? await inputImage(t.data as ArrayLike<number>, layout) : undefined;
    out.push({ name, type: t.type, dims: t.dims, origin: inputs.origin.get(name) ?? '', ...(image ? { image } : {}) });
  }
  return out;
}

async function report(modelPath: string, flags: ScannedFlags): Promise<void> {
  const json = isSet(flags, 'json');
  const out = await checkOut(lastValue(flags, 'out'));
  const model = await openModel(modelPath, threadsOf(flags));
  try {
    const options = { layers: layerSpecsOf(flags, 'leaves') };
    const plan = model.plan(options); // an unknown layer fails before any input is read
    requireObservable(plan.targets.length, plan.notObservable);
    const inputs = await buildInputs(model, flags, json);
    const started = performance.now();
    const acts = await model.capture(inputs.feeds as Record<string, PlainTensor>, options);
    requireObservable(acts.size, acts.notObservable);
    const runMs = performance.now() - started;
    const moduleOf = new Map(acts.targets.map((t) => [t.key, t.module]));
    const modules = modulesInCallOrder(model);
    const layers = inTreeOrder(
      captureLayers([...acts] as [string, HostTensor][], (key) => moduleOf.get(key)),
      modules,
    );
    const outputs = captureLayers(Object.entries(acts.outputs) as [string, HostTensor][], () => undefined);
    const html = await renderReport({
      model: basename(modelPath),
      version: packageVersion(),
      source: model.moduleNameSource,
      modules,
      inputs: await describeInputs(model, inputs),
      layers,
      outputs,
      runMs,
    });
    const bytes = new TextEncoder().encode(html);
    await writeFileAtomic(out, bytes);
    const summary = {
      out,
      bytes: bytes.length,
      layers: layers.map((l) => l.key),
      notObservable: acts.notObservable.map((u) => u.key),
    };
    process.stdout.write(
      json
        ? `${JSON.stringify(summary)}\n`
        : `wrote ${out} (${layers.length} layers, ${(bytes.length / 1024).toFixed(0)} KB)\n`,
    );
  } finally {
    await model.release();
  }
}
