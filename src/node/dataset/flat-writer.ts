/**
 * Streaming a data set into plain files (Node only): a directory with one `.npy` per key, or one
 * `.safetensors` file. The headers carry the final shapes (items x item shape, known up front),
 * each batch is written in place at its offset, and the files appear under their names only when
 * complete (`*.partial` until then), so memory stays bounded by a batch and a crash leaves
 * nothing that looks finished. These formats have no per-chunk records: resume and shards need Zarr.
 */
import { mkdir, open, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { NeurotapError } from '../../errors.js';
import { outputError, writeFileAtomic } from '../files.js';
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

/** Creates `path` sized `bytes` with `header` at its start (the rest is a hole until written). */
async function preallocate(path: string, header: Uint8Array, bytes: number): Promise<FileHandle> {
  const handle = await open(path, 'w').catch((cause) => {
    throw outputError(path, cause);
  });
  try {
    await writeAt(handle, header, 0);
    await handle.truncate(bytes);
  } catch (cause) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw outputError(path, cause);
  }
  return handle;
}

/** Runs a write step; a file-system failure (ENOSPC, EROFS...) becomes E_OUTPUT_PATH naming `path`. */
async function writing<T>(path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (cause) {
    throw cause instanceof NeurotapError ? cause : outputError(path, cause);
  }
}

export class FlatDatasetWriter {
  private constructor(
    private readonly out: string,
    private readonly format: FlatFormat,
    private readonly manifest: DatasetManifest,
    private readonly targets: Map<string, Target>,
    private readonly createdDir?: string,
  ) {}

  static async create(out: string, format: FlatFormat, manifest: DatasetManifest): Promise<FlatDatasetWriter> {
    const targets = new Map<string, Target>();
    let created: string | undefined; // the directory this writer made, removed again if it fails
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
      created = await mkdir(out, { recursive: true }).catch((cause) => {
        throw outputError(out, cause);
      });
      try {
        for (const [i, k] of manifest.keys.entries()) {
          const header = headers[i];
          const handle = await preallocate(
            join(out, `${k.array}.npy.partial`),
            header,
            header.length + k.shape[0] * rowBytes(k),
          );
          targets.set(k.key, { handle, offset: header.length, rowBytes: rowBytes(k) });
        }
      } catch (err) {
        await new FlatDatasetWriter(out, format, manifest, targets, created).abort();
        throw err;
      }
    }
    return new FlatDatasetWriter(out, format, manifest, targets, created);
  }

  async writeBatch(batch: DatasetBatch): Promise<void> {
    for (const [key, target] of this.targets) {
      const t = batch.activations.get(key)!;
      const at = target.offset + batch.start * target.rowBytes;
      await writing(this.out, () => writeAt(target.handle, bytesOf(t.data as TypedArray), at));
    }
  }

  /** Flushes, closes and renames the files into place; for a directory, index.json and manifest.json last. */
  async finish(): Promise<string[]> {
    return writing(this.out, () => this.#finish());
  }

  async #finish(): Promise<string[]> {
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
    // A directory this run created and left empty goes too: a failed run leaves nothing behind.
    if (this.createdDir) {
      await rmdir(this.out).catch(() => undefined);
      if (this.createdDir !== this.out) await rmdir(this.createdDir).catch(() => undefined);
    }
  }
}
