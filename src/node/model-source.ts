/**
 * External-data support in Node: initializers stored in `.data` files beside the model file.
 * Sessions are created from the rewritten bytes with ONNX Runtime's
 * `session.model_external_initializers_file_folder_path`, so the runtime reads the weights from
 * the original files itself: they never pass through JS.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { InferenceSession, ModelSource, Runtime } from '../runtime/runtime.js';

export function nodeModelSource(modelPath: string | undefined, runtime: Runtime): ModelSource {
  const baseDir = modelPath ? dirname(resolve(modelPath)) : process.cwd();
  return {
    externalDataFolder: baseDir,
    saveTensors: async (path, tensors) => (await import('./files.js')).writeTensors(path, tensors),
    optimize: (model, options) => optimizedByRuntime(runtime, model, options),
    async checkExternalData(location: string) {
      const file = resolve(baseDir, location);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        throw new NeurotapError(
          'E_EXTERNAL_DATA_MISSING',
          `The model keeps its weights in '${location}', which does not exist at ${file}.`,
          {
            hint: 'Copy the .data file(s) written by the exporter next to the .onnx file, under the same name.',
            details: { location, path: file },
          },
        );
      }
    },
  };
}

/** ONNX Runtime writes the graph it optimised to a file (a private temporary folder, removed after). */
async function optimizedByRuntime(
  runtime: Runtime,
  model: Uint8Array,
  options: InferenceSession.SessionOptions,
): Promise<Uint8Array> {
  const folder = await mkdtemp(join(tmpdir(), 'neurotap-optimized-'));
  try {
    const file = join(folder, 'model.onnx');
    const session = await runtime.InferenceSession.create(model, { ...options, optimizedModelFilePath: file });
    await session.release();
    const buffer = await readFile(file);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
