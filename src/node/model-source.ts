/**
 * External-data support in Node: initializers stored in `.data` files beside the model file.
 * Sessions are created from the rewritten bytes with ONNX Runtime's
 * `session.model_external_initializers_file_folder_path`, so the runtime reads the weights from
 * the original files itself: they never pass through JS.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { ModelSource } from '../runtime/runtime.js';

export function nodeModelSource(modelPath: string | undefined): ModelSource {
  const baseDir = modelPath ? dirname(resolve(modelPath)) : process.cwd();
  return {
    externalDataFolder: baseDir,
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
