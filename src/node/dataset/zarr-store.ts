/**
 * A zarrita store over node:fs whose writes are atomic (Node only). zarrita's own FileSystemStore
 * writes files in place, so a process killed mid-write leaves a truncated chunk that readers take
 * for data; here every file goes to a temporary name and is renamed over the target once complete.
 * It also remembers the SHA-256 of what it wrote, for the per-chunk completion records.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { AbsolutePath, AsyncMutable } from 'zarrita';
import { NeurotapError } from '../../errors.js';
import { outputError, writeFileAtomic } from '../files.js';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class AtomicFileStore implements AsyncMutable {
  #written = new Map<string, string>();
  readonly #directories = new Set<string>();

  constructor(readonly root: string) {}

  /** The file a store key names. */
  pathOf(key: string): string {
    return join(this.root, ...key.split('/').filter(Boolean));
  }

  async get(key: AbsolutePath): Promise<Uint8Array | undefined> {
    try {
      const buffer = await readFile(this.pathOf(key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new NeurotapError('E_BAD_FILE', `Expected to read ${this.pathOf(key)} of the store; could not (${code}).`, {
        hint: 'Check the store and its permissions.',
        cause: err,
      });
    }
  }

  async set(key: AbsolutePath, value: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    if (!this.#directories.has(dir)) {
      await mkdir(dir, { recursive: true }).catch((cause) => {
        throw outputError(dir, cause);
      });
      this.#directories.add(dir);
    }
    await writeFileAtomic(path, value);
    this.#written.set(key.replace(/^\//, ''), sha256(value));
  }

  /** Keys written since the last call, with the SHA-256 of their bytes; clears the list. */
  takeWritten(): Map<string, string> {
    const written = this.#written;
    this.#written = new Map();
    return written;
  }
}
