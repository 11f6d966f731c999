/**
 * `DatasetStore` over a local directory (Node only). Every object goes to a temporary name next to
 * its target and is renamed over it once complete, so a process killed mid-write leaves a
 * `NAME.HEX.tmp` leftover (never read, removed on resume) rather than a truncated object that
 * readers would take for data.
 */
import { mkdir, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { NeurotapError } from '../../errors.js';
import { outputError, writeFileAtomic } from '../files.js';
import type { DatasetStore } from './dataset-store.js';
import { findTempFiles, isTempName, removeStaleTempFiles } from './temp-files.js';

export class FileDatasetStore implements DatasetStore {
  readonly #directories = new Set<string>();

  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  /** The file a store key names. */
  pathOf(key: string): string {
    return join(this.root, ...key.split('/').filter(Boolean));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const buffer = await readFile(this.pathOf(key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // no store there (or a file), so no object
      throw new NeurotapError('E_BAD_FILE', `Expected to read ${this.pathOf(key)} of the store; could not (${code}).`, {
        hint: 'Check the store and its permissions.',
        cause: err,
      });
    }
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const path = this.pathOf(key);
    await this.#directory(dirname(path));
    await writeFileAtomic(path, data instanceof Uint8Array ? data : [...data]);
  }

  /** Creates a directory once per store object (the writer puts thousands of files into a few). */
  async #directory(dir: string): Promise<void> {
    if (this.#directories.has(dir)) return;
    await mkdir(dir, { recursive: true }).catch((cause) => {
      throw outputError(dir, cause);
    });
    this.#directories.add(dir);
  }

  async list(prefix: string): Promise<string[]> {
    const info = await stat(this.root).catch(() => undefined);
    if (!info) return [];
    if (!info.isDirectory())
      throw new NeurotapError(
        'E_OUTPUT_PATH',
        `Expected ${this.root} to be a Zarr store (a directory); it is a file.`,
        {
          hint: 'Remove it or choose another path.',
        },
      );
    const found: string[] = [];
    const walk = async (dir: string, at: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const key = `${at}${e.name}`;
        if (e.isDirectory()) {
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) await walk(join(dir, e.name), `${key}/`);
        } else if (key.startsWith(prefix) && !isTempName(e.name)) found.push(key);
      }
    };
    await walk(this.root, '');
    return found;
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => rm(this.pathOf(k), { force: true })));
    // Folders the removal emptied go too, deepest first: an emptied store leaves no stray array folders.
    const root = resolve(this.root);
    const dirs = [...new Set(keys.map((k) => dirname(resolve(this.pathOf(k)))))].sort((a, b) => b.length - a.length);
    for (let dir of dirs) {
      while (dir.length > root.length && dir.startsWith(root)) {
        if (
          !(await rmdir(dir).then(
            () => true,
            () => false,
          ))
        )
          break;
        this.#directories.clear(); // the names it holds may be relative: forget them all
        dir = dirname(dir);
      }
    }
  }

  /** Every put is flushed before its rename (writeFileAtomic), so there is nothing left to commit. */
  async sync(): Promise<void> {}

  leftovers(): Promise<string[]> {
    return findTempFiles(this.root);
  }

  removeStaleLeftovers(): Promise<string[]> {
    return removeStaleTempFiles(this.root);
  }
}
