/**
 * The browser entry: `loadModel(bytes | url | File)` on onnxruntime-web (WASM), plus everything
 * from the isomorphic core. Works in pages and in Web Workers.
 *
 * ```ts
 * import { loadModel } from 'neurotap/web';
 * const model = await loadModel('/models/cnn.onnx', { wasmPaths: '/ort/' });
 * const acts = await model.capture({ x: { data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] } });
 * ```
 */
import { NeurotapError } from './errors.js';
import { NeurotapModel, type LoadOptions } from './model.js';
import type { ModelSource, Runtime } from './runtime/runtime.js';

export * from './index.js';

type OrtWeb = typeof import('onnxruntime-web/wasm');
let ortWeb: Promise<OrtWeb> | undefined;

/**
 * onnxruntime-web is an optional peer dependency (139 MB that Node-only users never load), so it is
 * imported on first use, and its absence is a typed error instead of a bare module-resolution failure.
 */
function importOrtWeb(): Promise<OrtWeb> {
  ortWeb ??= import('onnxruntime-web/wasm').catch((cause) => {
    ortWeb = undefined; // installing it later in the same page or process works
    throw new NeurotapError(
      'E_MISSING_DEPENDENCY',
      'The web entry (neurotap/web) runs on onnxruntime-web, which is not installed.',
      {
        hint: 'Install it next to neurotap: npm install onnxruntime-web (or use the Node entry, `neurotap`).',
        cause,
        details: { package: 'onnxruntime-web' },
      },
    );
  });
  return ortWeb;
}

/** The onnxruntime-web runtime neurotap/web runs on, for `NeurotapModel.fromBytes(bytes, runtime)`. */
export async function loadWebRuntime(): Promise<Runtime> {
  return (await importOrtWeb()) as unknown as Runtime;
}

export interface WebLoadOptions extends LoadOptions {
  /** Where ONNX Runtime fetches its .wasm (and .mjs) files from: a URL prefix ending in '/'. */
  wasmPaths?: string;
}

/** What `loadModel` accepts in a browser: the model's bytes, a URL to fetch, or a File/Blob (drag and drop, file input). */
export type WebModelSource = Uint8Array | ArrayBuffer | string | URL | Blob;

/** Browsers have no folder to read external weights from: such models must be saved as one .onnx file. */
const browserSource: ModelSource = {
  async checkExternalData(location: string) {
    throw new NeurotapError(
      'E_EXTERNAL_DATA_MISSING',
      `The model keeps its weights in '${location}', which a browser cannot read from the model's folder.`,
      {
        hint: 'Save the model as a single file (onnx.save_model(model, path, save_as_external_data=False)), or use the Node entry.',
        details: { location },
      },
    );
  },
};

/** Loads an ONNX model for capture on onnxruntime-web; single-threaded unless the page is cross-origin isolated. */
export async function loadModel(source: WebModelSource, options: WebLoadOptions = {}): Promise<NeurotapModel> {
  const ort = await importOrtWeb();
  configureWasm(ort, options);
  const bytes = await readSource(source);
  const { wasmPaths: _ignored, ...load } = options;
  return NeurotapModel.fromBytes(bytes, ort as unknown as Runtime, load, browserSource);
}

function configureWasm(ort: OrtWeb, options: WebLoadOptions): void {
  // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages.
  if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) ort.env.wasm.numThreads = 1;
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
}

async function readSource(source: WebModelSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source === 'string' || source instanceof URL) return fetchBytes(String(source));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `Expected the model as bytes, a URL or a File; got ${source === null ? 'null' : typeof source}.`,
    {
      hint: 'Pass a Uint8Array, an ArrayBuffer, a URL string, or a File from an <input type="file">.',
    },
  );
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new NeurotapError('E_BAD_FILE', `Could not fetch the model from ${url}: ${(cause as Error).message}.`, {
      hint: 'Check the URL and that the server allows this origin (CORS).',
      cause,
    });
  }
  if (!response.ok) {
    const code = response.status === 404 ? 'E_FILE_NOT_FOUND' : 'E_BAD_FILE';
    throw new NeurotapError(
      code,
      `Expected a model at ${url}; the server answered ${response.status} ${response.statusText}.`,
      {
        hint: 'Check the URL of the .onnx file.',
        details: { url, status: response.status },
      },
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}
