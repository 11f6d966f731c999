/**
 * `neurotap layers MODEL`: the module tree as PyTorch's `named_modules()` lists it, with each
 * module's type, number of calls, declared output shapes, and why a module cannot be observed.
 */
import type { ArgsDef } from 'citty';
import { NeurotapError, isNeurotapError } from '../../errors.js';
import type { NeurotapModel, ValueInfo } from '../../model.js';
import { flagCommand, isSet, lastValue } from '../argv.js';
import { FLAGS } from '../flags.js';
import { formatColumns, formatShape, stylesFor } from '../format.js';
import { symbolsOf } from '../../graph/symbolic-dims.js';
import { openModel } from '../model-info.js';
import { cacheSymbols, declaredRandomShapes, randomFeeds } from '../random.js';

const args = {
  model: FLAGS.model,
  json: { type: 'boolean', description: 'Print one JSON object instead of the tree' },
  values: {
    type: 'boolean',
    description:
      "List the values computed between modules instead (torchvision's get_graph_node_names): layer1.0/add, flatten; each works in --layers",
  },
  probe: {
    type: 'boolean',
    description:
      'Run the model once on random inputs (symbolic sizes 1, a KV cache empty) to show the output shapes the graph does not declare (default: for models under 1 GiB of weights); --no-probe to skip',
  },
} satisfies ArgsDef;

export default flagCommand(
  {
    name: 'layers',
    description: 'List the PyTorch modules of an ONNX model (like named_modules()) with types, calls and output shapes',
  },
  args,
  'Give one model: neurotap layers MODEL.',
  async (path, flags) => {
    const model = await openModel(path!);
    if (isSet(flags, 'values')) return printValueNames(model, isSet(flags, 'json'));
    const probe = lastValue(flags, 'probe');
    const skip = probe === 'false' || (probe === undefined && tooHeavyToProbe(model) !== undefined);
    const result = skip ? undefined : await probeShapes(model);
    if (result instanceof Error) {
      // Asked for explicitly, a probe that cannot run is the command's failure; by default, a note.
      if (probe === 'true') throw probeFailure(result);
      process.stderr.write(`note: output shapes are the declared ones: the probe run failed (${result.message})\n`);
    }
    const probed = result instanceof Error ? undefined : result;
    const out = isSet(flags, 'json') ? layersJson(model, probed) : layersText(model, path!, probed).join('\n');
    process.stdout.write(`${out}\n`);
  },
);

function layersJson(model: NeurotapModel, probed: ProbedShapes | undefined): string {
  const unobservable = unobservableKeys(model);
  return JSON.stringify(
    {
      inputs: model.inputs,
      outputs: model.outputs,
      source: model.moduleNameSource,
      evidence: model.moduleEvidence.counts,
      ...(model.moduleEvidence.warning ? { warning: model.moduleEvidence.warning } : {}),
      probed: probed ? { sizes: 'every symbolic dimension set to 1, random inputs' } : null,
      modules: model.modules().map((m) => ({
        ...m,
        ...(probed?.has(m.name) ? { probedShapes: probed.get(m.name) } : {}),
        ...(unobservable.has(m.name) ? { notObservableKeys: unobservable.get(m.name) } : {}),
      })),
    },
    null,
    2,
  );
}

/**
 * Output keys a capture would report rather than return, per module, for modules observable as a
 * whole (e.g. an int4 value the JS API cannot return, or one element of a tuple).
 */
function unobservableKeys(model: NeurotapModel): Map<string, { key: string; reason: string }[]> {
  const byModule = new Map<string, { key: string; reason: string }[]>();
  for (const u of model.plan({ layers: 'modules' }).notObservable) {
    if (model.module(u.module)?.notObservable) continue;
    const list = byModule.get(u.module) ?? byModule.set(u.module, []).get(u.module)!;
    list.push({ key: u.key, reason: u.reason });
  }
  return byModule;
}

/** Above these, a forward pass just to learn shapes costs too much for a listing: --probe forces it. */
const PROBE_WEIGHT_LIMIT = 2 ** 30;
const PROBE_INPUT_LIMIT = 2 ** 26;

/** Why the default probe is skipped (weights, or inputs at symbolic sizes 1, too large), or undefined. */
function tooHeavyToProbe(model: NeurotapModel): string | undefined {
  if (model.weightBytes() > PROBE_WEIGHT_LIMIT) return 'over 1 GiB of weights';
  let bytes: number;
  try {
    bytes = declaredRandomShapes(model, model.inputNames, probeSizes(model)).reduce((n, s) => n + s.bytes, 0);
  } catch {
    return undefined; // the probe fails with this error itself, reported as a note
  }
  return bytes > PROBE_INPUT_LIMIT ? `inputs of ${bytes} bytes, over 64 MiB` : undefined;
}

/** Every symbolic dimension of the inputs set to 1 (a KV cache empty): what the probe runs at. */
function probeSizes(model: NeurotapModel): Map<string, number> {
  const sizes = new Map<string, number>();
  const { past, total } = cacheSymbols(model);
  for (const v of model.inputs)
    for (const d of v.shape ?? [])
      if (typeof d === 'string')
        for (const sym of symbolsOf(d)) if (!past.has(sym) && !total.has(sym)) sizes.set(sym, 1);
  return sizes;
}

/** Output shapes measured per module call (tuple elements in order), keyed by module name. */
type ProbedShapes = Map<string, number[][][]>;

/**
 * TorchScript exports declare shapes only for the graph's inputs and outputs, so `layers` runs the
 * model once on random inputs to show real ones. A failure (missing weights, unusual inputs) is
 * returned, for the caller to report.
 */
async function probeShapes(model: NeurotapModel): Promise<ProbedShapes | Error> {
  try {
    const feeds = randomFeeds(model, model.inputNames, probeSizes(model), 0);
    const acts = await model.capture(feeds as never, { layers: 'modules' });
    const shapes: ProbedShapes = new Map();
    for (const t of acts.targets) {
      if (t.kind !== 'output' || !t.module) continue;
      const calls = shapes.get(t.module) ?? shapes.set(t.module, []).get(t.module)!;
      (calls[t.call - 1] ??= []).push([...acts.get(t.key)!.dims]);
    }
    return shapes;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

function probeFailure(err: Error): NeurotapError {
  return new NeurotapError(
    isNeurotapError(err) ? err.code : 'E_RUNTIME',
    `--probe could not run the model on random inputs (every symbolic size 1): ${err.message}`,
    {
      hint: `${isNeurotapError(err) && err.hint ? `${err.hint} ` : ''}Without --probe, layers lists the declared shapes.`,
      cause: err,
    },
  );
}

/** Modules depth-first from the top-level ones, children in the order the model calls them. */
function treeOrder(model: NeurotapModel): { name: string; depth: number }[] {
  const order: { name: string; depth: number }[] = [];
  const visit = (name: string, depth: number) => {
    order.push({ name, depth });
    for (const child of model.module(name)?.children ?? []) visit(child, depth + 1);
  };
  for (const { name } of model.modules()) {
    const parent = model.module(name)?.parent;
    if (parent === undefined || !model.module(parent)) visit(name, 0);
  }
  return order;
}

/** Each call's output shapes; `(a, b)` for a tuple, calls separated by `|` when they differ. */
function callShapes(model: NeurotapModel, name: string, probed: ProbedShapes | undefined): string {
  const tuple = (shapes: string[]) => (shapes.length === 1 ? shapes[0] : `(${shapes.join(', ')})`);
  const measured = probed?.get(name);
  if (measured)
    return [...new Set(measured.filter(Boolean).map((call) => tuple(call.map((d) => formatShape(d)))))].join(' | ');
  const calls = model.module(name)?.calls ?? [];
  const perCall = calls.map((call) =>
    tuple(call.outputs.map((v) => formatShape(model.valueInfo(v).shape ?? undefined))),
  );
  return [...new Set(perCall)].join(' | ');
}

function valueLine(v: ValueInfo): string[] {
  return [v.name, v.dtype, formatShape(v.shape ?? undefined)];
}

function layersText(model: NeurotapModel, path: string, probed: ProbedShapes | undefined): string[] {
  const s = stylesFor(process.stdout);
  const modules = model.modules();
  const unobservable = unobservableKeys(model);
  const hidden = modules.filter((m) => m.notObservable || unobservable.has(m.name)).length;
  const header = formatColumns([
    ...model.inputs.map((v) => ['input', ...valueLine(v)]),
    ...model.outputs.map((v) => ['output', ...valueLine(v)]),
  ]).map((line) => s.dim(line.slice(0, 6)) + line.slice(6));
  const heavy = tooHeavyToProbe(model);
  const shapesFrom = probed
    ? 'shapes from a probe run with random inputs, symbolic sizes 1'
    : heavy
      ? `declared shapes (${heavy}: --probe runs the model to measure them)`
      : 'declared shapes';
  const summary = `${modules.length} modules, ${modules.filter((m) => m.leaf).length} leaves, ${hidden} not observable; names from ${model.moduleNameSource}; ${shapesFrom}`;
  const rows = treeOrder(model).map(({ name, depth }) => {
    const info = model.module(name)!;
    const keys = unobservable.get(name);
    const reason =
      info.notObservable?.reason ?? keys?.map((k) => (k.key === name ? '' : `${k.key}: `) + k.reason).join('; ');
    const why = reason ? s.yellow(`not observable: ${reason}`) : '';
    return [
      `${'  '.repeat(depth)}${name}`,
      s.cyan(info.type),
      String(info.calls.length),
      callShapes(model, name, probed),
      why,
    ];
  });
  const table = formatColumns([['name', 'type', 'calls', 'output', ''].map(s.bold), ...rows], [2]);
  const { summary: found, warning } = model.moduleEvidence;
  const warned = warning ? [s.yellow(`warning: ${warning}`)] : [];
  const evidence = s.dim(`modules: ${found}`);
  return [`${s.dim('model'.padEnd(6))}  ${path}`, ...header, s.dim(summary), evidence, ...warned, '', ...table];
}

function printValueNames(model: NeurotapModel, json: boolean): void {
  const values = model.valueNames();
  if (json) {
    process.stdout.write(`${JSON.stringify({ values }, null, 2)}\n`);
    return;
  }
  const s = stylesFor(process.stdout);
  const rows = values.map((v) => [v.name, v.op, s.dim(v.value)]);
  process.stdout.write(`${formatColumns([['name', 'op', 'ONNX value'].map(s.bold), ...rows]).join('\n')}\n`);
}
