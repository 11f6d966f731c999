/**
 * External-data support in Node: initializers stored in `.data` files beside the model file.
 * ONNX Runtime resolves those files relative to the model's path, so a rewritten model is written
 * to a private temporary folder whose links point at the original data files: weights are never
 * read through JS.
 */
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { InferenceSession, ModelSource, Runtime } from './runtime.js';

export function nodeModelSource(modelPath: string | undefined, runtime: Runtime, locations: () => string[]): ModelSource {
  const baseDir = modelPath ? dirname(resolve(modelPath)) : process.cwd();
  return {
    async checkExternalData(location: string) {
      const file = resolve(baseDir, location);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        throw new NeurotapError('E_EXTERNAL_DATA_MISSING', `The model keeps its weights in '${location}', which does not exist at ${file}.`, {
          hint: 'Copy the .data file(s) written by the exporter next to the .onnx file (same name as when exported).',
          details: { location, path: file },
        });
      }
    },
    async createSessionWithExternalData(bytes: Uint8Array, options: InferenceSession.SessionOptions) {
      const dir = await mkdtemp(join(tmpdir(), 'neurotap-'));
      try {
        for (const location of locations()) {
          if (isAbsolute(location)) continue;
          const link = join(dir, location);
          await mkdir(dirname(link), { recursive: true });
          await symlink(resolve(baseDir, location), link);
        }
        const path = join(dir, 'model.onnx');
        await writeFile(path, bytes);
        return await runtime.InferenceSession.create(path, options);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
