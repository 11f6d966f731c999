/**
 * The Web Worker that owns the model: loading, random inputs and captures run here, so drawing
 * and scrolling stay smooth while ONNX Runtime works. Statistics and histograms are computed
 * here too; the page only paints.
 */
import { isNeurotapError, loadModel, type HostTensor, type NeurotapModel, type PlainTensor } from '../src/web.js';
import { captureLayers } from '../src/viewer-core/layer-data.js';
import { modulesInCallOrder } from '../src/viewer-core/module-tree.js';
import { randomFeeds } from '../src/cli/random.js';
import { DEFAULT_SYMBOL_SIZE } from '../src/viewer-core/random-input.js';
import { headGrid, tokenNorms } from '../src/viewer-core/transformer-view.js';
import type {
  ErrorInfo,
  ModelInfo,
  ModelSourceMessage,
  Reply,
  Request,
  RunResult,
  TransformerResult,
} from './protocol.js';

let model: NeurotapModel | undefined;
let presets: string[] = [];
const PRESET_KEY = /^(hidden_states|attentions)\.\d+$/;

/** The transformer presets this model has: those whose plan names at least one value (E_NOT_A_TRANSFORMER otherwise). */
function transformerPresets(m: NeurotapModel): string[] {
  return ['hidden_states', 'attentions'].filter((preset) => {
    try {
      const plan = m.plan({ layers: [preset] });
      return plan.targets.length + plan.notObservable.length > 0;
    } catch {
      return false;
    }
  });
}

async function load(source: ModelSourceMessage, wasmPaths: string): Promise<ModelInfo> {
  const next = await loadModel('url' in source ? source.url : new Uint8Array(source.bytes), { wasmPaths });
  await model?.release();
  model = next;
  presets = transformerPresets(next);
  const name = 'url' in source ? decodeURIComponent(source.url.split('/').pop() ?? 'model.onnx') : source.name;
  return {
    name,
    bytes: next.bytes.length,
    inputs: next.inputs,
    outputs: next.outputs,
    source: next.moduleNameSource,
    modules: modulesInCallOrder(next),
    transformer: presets,
  };
}

function current(): NeurotapModel {
  if (!model) throw new Error('No model is loaded yet.');
  return model;
}

async function run(feeds: Record<string, HostTensor>, layers: string[]): Promise<RunResult> {
  const m = current();
  const started = performance.now();
  const acts = await m.capture(feeds as Record<string, PlainTensor>, { layers: [...layers, ...presets] });
  const runMs = performance.now() - started;
  const moduleOf = new Map(acts.targets.map((t) => [t.key, t.module]));
  const hosts = (entries: Iterable<[string, unknown]>) => [...entries] as [string, HostTensor][];
  const all = captureLayers(hosts(acts), (key) => moduleOf.get(key));
  const notObservable = [...acts.notObservable];
  return {
    layers: all.filter((l) => !PRESET_KEY.test(l.key) || layers.includes(l.key)),
    outputs: captureLayers(hosts(Object.entries(acts.outputs)), () => undefined),
    notObservable: notObservable.filter((u) => !PRESET_KEY.test(u.key)),
    ...(presets.length ? { transformer: transformerResult(all, notObservable) } : {}),
    runMs,
  };
}

/** Norms of the hidden states and head grids of the attentions, in key order. */
function transformerResult(layers: RunResult['layers'], notObservable: RunResult['notObservable']): TransformerResult {
  const of = (preset: string) =>
    layers
      .filter((l) => l.key.startsWith(`${preset}.`) && PRESET_KEY.test(l.key))
      .sort((a, b) => Number(a.key.split('.')[1]) - Number(b.key.split('.')[1]));
  const states = of('hidden_states');
  return {
    norms: states.length ? tokenNorms(states) : undefined,
    heads: of('attentions').map(headGrid),
    notObservable: notObservable.filter((u) => PRESET_KEY.test(u.key)),
  };
}

async function handle(request: Request): Promise<unknown> {
  if (request.op === 'load') return load(request.source, request.wasmPaths);
  // As --random makes them: token ids inside the embedding, masks of ones, positions, an empty KV cache.
  if (request.op === 'random') {
    const m = current();
    return randomFeeds(m, m.inputNames, new Map(), request.seed, { fallbackSize: DEFAULT_SYMBOL_SIZE });
  }
  return run(request.feeds, request.layers);
}

/** Buffers to move rather than copy; each only once (a value captured under two keys shares one). */
function transferables(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown) => {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return [...buffers];
}

function errorInfo(err: unknown): ErrorInfo {
  if (isNeurotapError(err)) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

self.onmessage = async (event: MessageEvent<{ id: number; request: Request }>) => {
  const { id, request } = event.data;
  let reply: Reply;
  try {
    reply = { id, ok: true, value: await handle(request) };
  } catch (err) {
    reply = { id, ok: false, error: errorInfo(err) };
  }
  (self as unknown as Worker).postMessage(reply, reply.ok ? transferables(reply.value) : []);
};
