/**
 * `neurotap layers MODEL`: the module tree as PyTorch's `named_modules()` lists it, with each
 * module's type, number of calls, declared output shapes, and why a module cannot be observed.
 */
import { defineCommand, type ArgsDef } from 'citty';
import { declaredShape } from '../graph/graph-index.js';
import type { NeurotapModel } from '../model.js';
import { checkPositionals, isSet, scanFlags } from './argv.js';
import { formatColumns, formatShape, stylesFor } from './format.js';
import { declaredInputs, declaredOutputs, openModel, type DeclaredValue } from './model-info.js';

const args = {
  model: { type: 'positional', required: true, description: 'The .onnx file' },
  json: { type: 'boolean', description: 'Print one JSON object instead of the tree' },
  debug: { type: 'boolean', description: 'Print stack traces with errors' },
} satisfies ArgsDef;

export default defineCommand({
  meta: { name: 'layers', description: 'List the PyTorch modules of an ONNX model (like named_modules()) with types, calls and output shapes' },
  args,
  async run({ rawArgs, args: parsed }) {
    const flags = scanFlags(rawArgs, args, 'layers');
    checkPositionals(flags, 1, 'layers', 'Give one model: neurotap layers MODEL.');
    const model = await openModel(parsed.model);
    const out = isSet(flags, 'json') ? layersJson(model) : layersText(model, parsed.model).join('\n');
    process.stdout.write(`${out}\n`);
  },
});

function layersJson(model: NeurotapModel): string {
  return JSON.stringify({
    inputs: declaredInputs(model),
    outputs: declaredOutputs(model),
    source: model.moduleMap.source,
    modules: model.modules(),
  }, null, 2);
}

/** Modules depth-first from the top-level ones, children in the order the model calls them. */
function treeOrder(model: NeurotapModel): { name: string; depth: number }[] {
  const order: { name: string; depth: number }[] = [];
  const visit = (name: string, depth: number) => {
    order.push({ name, depth });
    for (const child of model.module(name)?.children ?? []) visit(child, depth + 1);
  };
  for (const m of model.moduleMap.modules) if (m.parent === undefined || !model.module(m.parent)) visit(m.name, 0);
  return order;
}

/** Each call's output shapes; `(a, b)` for a tuple, calls separated by `|` when they differ. */
function callShapes(model: NeurotapModel, name: string): string {
  const calls = model.module(name)?.calls ?? [];
  const perCall = calls.map((call) => {
    const shapes = call.outputs.map((v) => formatShape(declaredShape(model.index.types.get(v))));
    return shapes.length === 1 ? shapes[0] : `(${shapes.join(', ')})`;
  });
  return [...new Set(perCall)].join(' | ');
}

function valueLine(v: DeclaredValue): string[] {
  return [v.name, v.dtype, formatShape(v.shape ?? undefined)];
}

function layersText(model: NeurotapModel, path: string): string[] {
  const s = stylesFor(process.stdout);
  const modules = model.modules();
  const hidden = modules.filter((m) => m.notObservable).length;
  const header = formatColumns([
    ...declaredInputs(model).map((v) => ['input', ...valueLine(v)]),
    ...declaredOutputs(model).map((v) => ['output', ...valueLine(v)]),
  ]).map((line) => s.dim(line.slice(0, 6)) + line.slice(6));
  const summary = `${modules.length} modules, ${modules.filter((m) => m.leaf).length} leaves, ${hidden} not observable; names from ${model.moduleMap.source}`;
  const rows = treeOrder(model).map(({ name, depth }) => {
    const info = model.module(name)!;
    const why = info.notObservable ? s.yellow(`not observable: ${info.notObservable.reason}`) : '';
    return [`${'  '.repeat(depth)}${name}`, s.cyan(info.type), String(info.calls.length), callShapes(model, name), why];
  });
  const table = formatColumns([['name', 'type', 'calls', 'output', ''].map(s.bold), ...rows], [2]);
  return [`${s.dim('model'.padEnd(6))}  ${path}`, ...header, s.dim(summary), '', ...table];
}
