/**
 * External-data support in Node: initializers stored in `.data` files beside the model file.
 * Sessions are created from the rewritten bytes with ONNX Runtime's
 * `session.model_external_initializers_file_folder_path`, so the runtime reads the weights from
 * the original files itself: they never pass through JS.
 */
import { mkdtemp, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { InferenceSession, ModelSource, Runtime } from '../runtime/runtime.js';

export function nodeModelSource(modelPath: string | undefined, runtime: Runtime): ModelSource {
  const baseDir = modelPath ? dirname(resolve(modelPath)) : process.cwd();
  return {
    externalDataFolder: baseDir,
    saveTensors: async (path, tensors, metadata) => (await import('./files.js')).writeTensors(path, tensors, metadata),
    optimize: (model, options) => optimizedByRuntime(runtime, model, options),
    async checkExternalData(location: string) {
      const file = resolve(baseDir, location);
      if (isAbsolute(location) || !isInside(baseDir, file)) throw outsideFolder(location, baseDir, file);
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
      // A symbolic link may lead out of the folder too: compare where it really is.
      const [real, realBase] = await Promise.all([realpath(file), realpath(baseDir)]);
      if (!isInside(realBase, real)) throw outsideFolder(location, baseDir, real);
    },
  };
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * A model may name any path as its external data (`../../etc/passwd`, `/home/x/.ssh/id_rsa`, a
 * link out): neurotap lets ONNX Runtime read weights only from the model's own folder.
 */
function outsideFolder(location: string, baseDir: string, path: string): NeurotapError {
  return new NeurotapError(
    'E_BAD_FILE',
    `The model names '${location}' as external data, which lies outside its folder ${baseDir} (at ${path}); weights are read only from the model's folder.`,
    {
      hint: 'Put the .data file next to the .onnx file and save the model with a plain file name as location (onnx.save_model(..., location="model.onnx.data")).',
      details: { location, path },
    },
  );
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
