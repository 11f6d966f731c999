/**
 * The Node entry: `loadModel(path)` on onnxruntime-node, plus everything from the isomorphic core.
 *
 * ```ts
 * import { loadModel } from 'neurotap';
 * const model = await loadModel('cnn.onnx');
 * const acts = await model.capture({ x: { data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] } });
 * ```
 */
import * as ort from 'onnxruntime-node';
import { readFile, stat } from 'node:fs/promises';
import { NeurotapError } from '../errors.js';
import { NeurotapModel, type LoadOptions } from '../model.js';
import { resolveExecutionProviders } from './execution-providers.js';
import { nodeModelSource } from './model-source.js';
import { zeroCopyRuntime } from './zero-copy/runtime.js';

export { resolveExecutionProviders } from './execution-providers.js';
export { loadTokenizer } from './tokenizer.js';
import type { Runtime } from '../runtime/runtime.js';

export * from '../index.js';

/** onnxruntime-node as its binding offers it (every output copied into a fresh ArrayBuffer). */
const bindingRuntime: Runtime = ort as unknown as Runtime;

/** The runtime `loadModel` uses: outputs viewed in ONNX Runtime's memory, the binding as fallback. */
export const nodeRuntime: Runtime = zeroCopyRuntime(bindingRuntime);

/** Loads an ONNX model from a file path (or bytes) for capture on onnxruntime-node. */
export async function loadModel(source: string | Uint8Array, options: LoadOptions = {}): Promise<NeurotapModel> {
  const path = typeof source === 'string' ? source : undefined;
  const bytes = path === undefined ? (source as Uint8Array) : await readModelFile(path);
  // A provider whose libraries are absent (CUDA after onnxruntime-node-install=skip) is dropped with a warning.
  const { providers, warnings } = resolveExecutionProviders(options.executionProviders);
  for (const text of warnings) process.emitWarning(text, { code: 'NEUROTAP_EP_MISSING' });
  const resolved = providers ? { ...options, executionProviders: providers } : options;
  return NeurotapModel.load(bytes, nodeRuntime, resolved, nodeModelSource(path, nodeRuntime));
}

async function readModelFile(path: string): Promise<Uint8Array> {
  const info = await stat(path).catch(() => undefined);
  if (!info)
    throw new NeurotapError('E_FILE_NOT_FOUND', `Model file '${path}' does not exist.`, {
      hint: 'Check the path; models are .onnx files written by torch.onnx.export.',
    });
  if (!info.isFile())
    throw new NeurotapError('E_NOT_ONNX', `'${path}' is not a file.`, { hint: 'Pass the path of an .onnx file.' });
  const buffer = await readFile(path);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
