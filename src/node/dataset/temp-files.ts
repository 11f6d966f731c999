/**
 * Temporary files a killed writer leaves in a store (`NAME.HEX.tmp`, from writeFileAtomic): found
 * for `verify` to report, and removed on `--resume` once old enough that no live writer (another
 * shard) can still be about to rename them.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const TEMP_NAME = /\.[0-9a-f]{12}\.tmp$/;

/** Whether a file name is a temporary file of writeFileAtomic. */
export const isTempName = (name: string): boolean => TEMP_NAME.test(name);
/** A temp file untouched this long belongs to no running writer: writes take milliseconds. */
export const STALE_TEMP_MS = 60_000;

/** Store-relative paths of every temporary file under `root`. */
export async function findTempFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(dir, e.name), `${prefix}${e.name}/`);
      else if (TEMP_NAME.test(e.name)) found.push(`${prefix}${e.name}`);
    }
  };
  await walk(root, '');
  return found.sort();
}

/** Removes the stale temporary files under `root`; returns what it removed. */
export async function removeStaleTempFiles(root: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const file of await findTempFiles(root)) {
    const path = join(root, ...file.split('/'));
    const info = await stat(path).catch(() => undefined);
    if (!info || now - info.mtimeMs < STALE_TEMP_MS) continue;
    await rm(path, { force: true });
    removed.push(file);
  }
  return removed;
}
