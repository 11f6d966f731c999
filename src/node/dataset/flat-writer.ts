/**
 * Streaming a data set into plain files (Node only): a directory with one `.npy` per key, or one
 * `.safetensors` file. The headers carry the final shapes (items x item shape, known up front),
 * each batch is written in place at its offset, and the files appear under their names only when
 * complete (`*.partial` until then), so memory stays bounded by a batch and a crash leaves
 * nothing that looks finished. These formats have no per-chunk records: resume and shards need Zarr.
 */
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { NeurotapError } from '../../errors.js';
import { writeFileAtomic } from '../files.js';
import { bytesOf, elementBytes } from '../../formats/elements.js';
import { encodeNpyHeader } from '../../formats/npy.js';
import { planSafetensors } from '../../formats/safetensors.js';
import { sizeOf, type TypedArray } from '../../tensor.js';
import type { DatasetManifest } from '../../dataset/manifest.js';
import { jsonBytes } from './zarr-writer.js';
import type { DatasetBatch } from '../../dataset/types.js';

export type FlatFormat = 'npy-directory' | 'safetensors';

interface Target {
  handle: FileHandle;
  /** File offset of item 0 of this key. */
  offset: number;
  rowBytes: number;
}

async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  // write() may write fewer bytes than asked; loop until all are out.
  for (let done = 0; done < bytes.length; )
    done += (await handle.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
}

function outputError(path: string, cause: unknown): NeurotapError {
  return new NeurotapError('E_OUTPUT_PATH', `Expected to write ${path}; could not: ${(cause as Error).message}.`, {
    hint: 'Check that the directory exists and is writable.',
    cause,
  });
}

/** Creates `path` sized `bytes` with `header` at its start (the rest is a hole until written). */
async function preallocate(path: string, header: Uint8Array, bytes: number): Promise<FileHandle> {
  const handle = await open(path, 'w').catch((cause) => {
    throw outputError(path, cause);
  });
  await writeAt(handle, header, 0);
  await handle.truncate(bytes);
  return handle;
}

export class FlatDatasetWriter {
  private constructor(
    private readonly out: string,
    private readonly format: FlatFormat,
    private readonly manifest: DatasetManifest,
    private readonly targets: Map<string, Target>,
  ) {}

  static async create(out: string, format: FlatFormat, manifest: DatasetManifest): Promise<FlatDatasetWriter> {
    const targets = new Map<string, Target>();
    const rowBytes = (k: DatasetManifest['keys'][number]) => sizeOf(k.shape.slice(1)) * elementBytes(k.dtype);
    if (format === 'safetensors') {
      const plan = planSafetensors(
        manifest.keys.map((k) => ({ name: k.key, dtype: k.dtype, dims: k.shape })),
        { neurotap: JSON.stringify(manifest) },
      );
      const handle = await preallocate(`${out}.partial`, plan.header, plan.totalBytes);
      for (const k of manifest.keys)
        targets.set(k.key, { handle, offset: plan.offsets.get(k.key)!, rowBytes: rowBytes(k) });
    } else {
      // Every header first: a dtype .npy cannot hold fails before any file is opened.
      const headers = manifest.keys.map((k) => encodeNpyHeader(k.dtype, k.shape));
      await mkdir(out, { recursive: true }).catch((cause) => {
        throw outputError(out, cause);
      });
      for (const [i, k] of manifest.keys.entries()) {
        const header = headers[i];
        const handle = await preallocate(
          join(out, `${k.array}.npy.partial`),
          header,
          header.length + k.shape[0] * rowBytes(k),
        );
        targets.set(k.key, { handle, offset: header.length, rowBytes: rowBytes(k) });
      }
    }
    return new FlatDatasetWriter(out, format, manifest, targets);
  }

  async writeBatch(batch: DatasetBatch): Promise<void> {
    for (const [key, target] of this.targets) {
      const t = batch.activations.get(key)!;
      await writeAt(target.handle, bytesOf(t.data as TypedArray), target.offset + batch.start * target.rowBytes);
    }
  }

  /** Flushes, closes and renames the files into place; for a directory, index.json and manifest.json last. */
  async finish(): Promise<string[]> {
    const handles = new Set([...this.targets.values()].map((t) => t.handle));
    for (const handle of handles) {
      await handle.datasync();
      await handle.close();
    }
    if (this.format === 'safetensors') {
      await rename(`${this.out}.partial`, this.out);
      return [this.out];
    }
    const files = this.manifest.keys.map((k) => join(this.out, `${k.array}.npy`));
    for (const file of files) await rename(`${file}.partial`, file);
    const index = Object.fromEntries(this.manifest.keys.map((k) => [k.key, `${k.array}.npy`]));
    await writeFileAtomic(join(this.out, 'index.json'), jsonBytes(index));
    await writeFileAtomic(join(this.out, 'manifest.json'), jsonBytes(this.manifest));
    return [...files, join(this.out, 'index.json'), join(this.out, 'manifest.json')];
  }

  /** Closes and removes the partial files after a failure. */
  async abort(): Promise<void> {
    const handles = new Set([...this.targets.values()].map((t) => t.handle));
    for (const handle of handles) await handle.close().catch(() => undefined);
    const partials =
      this.format === 'safetensors'
        ? [`${this.out}.partial`]
        : this.manifest.keys.map((k) => join(this.out, `${k.array}.npy.partial`));
    for (const p of partials) await rm(p, { force: true });
  }
}
