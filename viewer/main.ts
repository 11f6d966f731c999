/**
 * The viewer page: loads the model in a Web Worker, runs it at once on a default input (a bundled
 * sample for the demo, random values of the declared shapes otherwise), and shows the module tree,
 * the input, the outputs and a card per layer. Drop an .onnx file anywhere to look at another model.
 */
import type { ImagePreprocessing } from '../src/viewer-core/image-input.js';
import type { HostTensor } from '../src/web.js';
import { npyFeed } from '../src/viewer-core/inputs.js';
import { inTreeOrder } from '../src/viewer-core/module-tree.js';
import { byId, el } from './dom.js';
import { InputPanel, type Feeds, type Sample } from './input-panel.js';
import { LayerCards } from './layer-cards.js';
import { showOutputs } from './output-panel.js';
import { showTransformer } from './transformer-panel.js';
import type { ModelInfo, ModelSourceMessage, RunResult } from './protocol.js';
import { type HookFeed, installHook } from './test-hook.js';
import { ModuleTree } from './tree-panel.js';
import { Runner, ViewerError, WorkerClient } from './worker-client.js';

interface SampleConfig {
  readonly name: string;
  readonly label: number;
  readonly url: string;
}
interface ViewerConfig {
  readonly model: { readonly url: string };
  readonly wasmPaths: string;
  readonly samples?: SampleConfig[];
  readonly defaultSample?: string;
  /** `neurotap view MODEL --resize … --center-crop … --mean … --std …`: how uploaded images are preprocessed. */
  readonly image?: ImagePreprocessing;
}

const state = {
  info: undefined as ModelInfo | undefined,
  feeds: {} as Feeds,
  checked: new Set<string>(),
  seed: 0,
  result: undefined as RunResult | undefined,
};
let wasmPaths = new URL('ort/', location.href).href;

const client = new WorkerClient(new URL('./worker.js', import.meta.url));
const hook = installHook(
  (name, data, dims, type = 'float32') => {
    const typed =
      type === 'int64'
        ? BigInt64Array.from(data, (v) => BigInt(v))
        : type === 'int32'
          ? Int32Array.from(data)
          : Float32Array.from(data);
    setInput({ [name]: { type, dims, data: typed } }, 'test input', false);
  },
  (name) => state.feeds[name] as HookFeed | undefined,
);
const cards = new LayerCards(
  byId('layers'),
  (module) => state.info?.modules.find((m) => m.name === module)?.type ?? 'value',
);
const tree = new ModuleTree(byId('tree'), { toggle, select: (name) => (tree.highlight(name), cards.focus(name)) });
const inputs = new InputPanel(byId('input-panel'), {
  input: setInput,
  random: () => void random(),
  run: rerun,
  error: showError,
});
const runner = new Runner(client, showResult, showError);
cards.onPaint = () => {
  hook.firstRenderMs ??= performance.now();
  hook.ready = true;
};

function setStatus(text: string): void {
  byId('status').textContent = text;
}

function showError(err: unknown): void {
  const info =
    err instanceof ViewerError
      ? err.info
      : { code: 'E_VIEWER', message: err instanceof Error ? err.message : String(err) };
  hook.error = info;
  const close = el('button', { type: 'button', class: 'close', onclick: () => byId('error').replaceChildren() }, '×');
  byId('error').replaceChildren(
    el(
      'div',
      { class: 'error' },
      close,
      el('b', {}, info.code),
      ` ${info.message}`,
      'hint' in info && info.hint ? el('p', {}, info.hint) : '',
    ),
  );
}

function requested(): string[] {
  return [...state.checked];
}

function setInput(feeds: Feeds, source: string, _live: boolean): void {
  state.feeds = feeds;
  hook.source = source;
  inputs.showFeeds(feeds, source);
  runner.request({ feeds, layers: requested() });
}

function rerun(): void {
  runner.request({ feeds: state.feeds, layers: requested() });
}

async function random(): Promise<void> {
  try {
    setInput(await client.random(state.seed), `random normal values, seed ${state.seed++}`, false);
  } catch (err) {
    showError(err);
  }
}

function shown(layer: RunResult['layers'][number]): boolean {
  return state.checked.has(layer.module ?? layer.key);
}

function showResult(result: RunResult): void {
  state.result = result;
  hook.result = result;
  hook.lastRunMs = result.runMs;
  hook.prediction = showOutputs(byId('output-panel'), result.outputs);
  const panel = byId('transformer-panel');
  showTransformer(panel, result.transformer, byId('layers').clientWidth);
  cards.update(inTreeOrder(result.layers.filter(shown), state.info?.modules ?? []));
  const shapes = new Map<string, number[][]>();
  for (const l of result.layers) if (l.module) shapes.set(l.module, [...(shapes.get(l.module) ?? []), l.dims]);
  tree.setShapes(shapes);
  hook.runs++;
  setStatus(
    `ran in ${result.runMs.toFixed(1)} ms on onnxruntime-web (WASM, ${crossOriginIsolated ? 'threads' : '1 thread'}) · ${result.layers.length} values captured`,
  );
}

function toggle(name: string, checked: boolean): void {
  if (checked) state.checked.add(name);
  else state.checked.delete(name);
  const captured = state.result?.layers.some((l) => (l.module ?? l.key) === name);
  if (checked && !captured) rerun();
  else if (state.result) cards.update(inTreeOrder(state.result.layers.filter(shown), state.info?.modules ?? []));
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Could not fetch ${url}: ${response.status} ${response.statusText}.`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadSamples(configs: readonly SampleConfig[], info: ModelInfo): Promise<Sample[]> {
  const input = info.inputs[0];
  if (!input || info.inputs.length !== 1) return [];
  return Promise.all(
    configs.map(async (s) => ({
      name: s.name,
      label: s.label,
      feeds: { [input.name]: npyFeed(await fetchBytes(new URL(s.url, location.href).href), input) as HostTensor },
    })),
  );
}

async function openModel(source: ModelSourceMessage, config?: ViewerConfig): Promise<void> {
  setStatus('loading the model…');
  const started = performance.now();
  const info = await client.load(source, wasmPaths);
  hook.loadMs ??= performance.now() - started;
  state.info = info;
  state.result = undefined;
  state.checked = new Set(info.modules.filter((m) => m.leaf && !m.notObservable).map((m) => m.name));
  document.title = `${info.name} · neurotap`;
  byId('model-name').textContent = `${info.name} (${(info.bytes / 1024).toFixed(0)} KB)`;
  tree.show(info.modules, state.checked, info.source);
  const samples = config?.samples ? await loadSamples(config.samples, info) : [];
  inputs.preprocessing = config?.image ?? {};
  inputs.setModel(info, samples);
  const first = samples.find((s) => s.name === config?.defaultSample) ?? samples[0];
  if (first) setInput(first.feeds, `sample ${first.name}`, false);
  else await random();
}

async function openFile(file: File): Promise<void> {
  try {
    if (/\.onnx$/i.test(file.name)) await openModel({ bytes: await file.arrayBuffer(), name: file.name });
    else await inputs.acceptFile(file);
  } catch (err) {
    showError(err);
  }
}

function listenForFiles(): void {
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    document.body.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file) void openFile(file);
  });
  const picker = byId<HTMLInputElement>('model-file');
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    picker.value = '';
    if (file) void openFile(file);
  });
}

async function boot(): Promise<void> {
  listenForFiles();
  try {
    const response = await fetch('config.json');
    if (!response.ok)
      throw new Error(
        `Could not fetch config.json: ${response.status}. Drop an .onnx file on the page to open a model.`,
      );
    const config = (await response.json()) as ViewerConfig;
    wasmPaths = new URL(config.wasmPaths, location.href).href;
    await openModel({ url: new URL(config.model.url, location.href).href }, config);
  } catch (err) {
    setStatus('no model');
    showError(err);
  }
}

void boot();
