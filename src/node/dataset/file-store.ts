/**
 * `DatasetStore` over a local directory (Node only). Every object goes to a temporary name next to
 * its target and is renamed over it once written, so a process killed mid-write leaves a
 * `NAME.HEX.tmp` leftover (never read, removed on resume) rather than a truncated object that
 * readers would take for data. Durability is by group commit: a put leaves its file open, and
 * `sync()` flushes all of them (and their directories, which hold the renames) at once, instead
 * of one flush per file, which cost more than writing the bytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { NeurotapError } from '../../errors.js';
import { outputError } from '../files.js';
import type { DatasetStore } from './dataset-store.js';
import { findTempFiles, isTempName, removeStaleTempFiles } from './temp-files.js';

/** Files left open for the next commit at most; one more put commits them first (a bound on descriptors). */
const MAX_UNSYNCED_FILES = 256;

async function writeAll(handle: FileHandle, parts: readonly Uint8Array[]): Promise<void> {
  // write() may write fewer bytes than asked; loop until each part is out.
  for (const part of parts)
    for (let done = 0; done < part.length; ) done += (await handle.write(part, done, part.length - done)).bytesWritten;
}

export class FileDatasetStore implements DatasetStore {
  readonly #directories = new Set<string>();
  /** Files put since the last sync, still open, and the directories their renames changed. */
  #unsynced: { handle: FileHandle; dir: string; path: string }[] = [];

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
    const dir = dirname(path);
    await this.#directory(dir);
    if (this.#unsynced.length >= MAX_UNSYNCED_FILES) await this.sync();
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx');
      await writeAll(handle, data instanceof Uint8Array ? [data] : data);
      await rename(temp, path);
    } catch (cause) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw outputError(path, cause);
    }
    this.#unsynced.push({ handle, dir, path });
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
        const removed = await rmdir(dir).then(
          () => true,
          () => false,
        );
        if (!removed) break;
        this.#directories.clear(); // the names it holds may be relative: forget them all
        dir = dirname(dir);
      }
    }
  }

  /** Flushes every file put since the last sync, closes it, then flushes the directories that gained names. */
  async sync(): Promise<void> {
    const files = this.#unsynced;
    this.#unsynced = [];
    const failures: unknown[] = [];
    const settle = async (path: string, step: () => Promise<void>) => {
      await step().catch((cause) => failures.push(outputError(path, cause)));
    };
    await Promise.all(
      files.map(({ handle, path }) =>
        settle(path, async () => {
          try {
            await handle.datasync();
          } finally {
            await handle.close();
          }
        }),
      ),
    );
    const dirs = [...new Set(files.map((f) => f.dir))];
    await Promise.all(dirs.map((dir) => settle(dir, () => syncDirectory(dir))));
    if (failures.length) throw failures[0];
  }

  leftovers(): Promise<string[]> {
    return findTempFiles(this.root);
  }

  removeStaleLeftovers(): Promise<string[]> {
    return removeStaleTempFiles(this.root);
  }
}

/** fsync of a directory: what makes the renames into it survive a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
