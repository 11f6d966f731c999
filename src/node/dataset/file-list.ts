/**
 * Which files make up a data set (Node only): every item file under a directory, the files a glob
 * matches, or the paths a list file names. Always in the same order (sorted by path, code unit by
 * code unit, never by locale), because chunk k must hold the same items on every machine.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { NeurotapError } from '../../errors.js';

/** One item file: where to read it and the id that names it in manifests and statistics. */
export interface ItemFile {
  readonly path: string;
  readonly id: string;
}

/** Extensions read as items: arrays, and the image formats sharp decodes. */
export const ITEM_EXTENSIONS = ['.npy', '.npz', '.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

const isItemFile = (name: string) => ITEM_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function isGlobPattern(path: string): boolean {
  return /[*?[]/.test(path);
}

/** Relative paths (with `/`) of every file below `root`, hidden entries (dotfiles) left out. */
async function walk(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await walk(root, rel)));
    else if (entry.isFile() || entry.isSymbolicLink()) found.push(rel);
  }
  return found;
}

function noItems(where: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', `Found no item files in ${where}.`, { hint });
}

/** A file-system error while listing items, typed and naming the path (EACCES in a subdirectory...). */
function listError(path: string, cause: unknown): NeurotapError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT')
    return new NeurotapError('E_FILE_NOT_FOUND', `Expected items at ${path}; no such file or directory.`, {
      hint: 'Check the path.',
      cause,
    });
  return new NeurotapError(
    'E_BAD_FILE',
    `Expected to list the items at ${path}; could not read it (${code ?? cause}).`,
    {
      hint: 'Check the directory (and every folder below it) and its permissions.',
      cause,
    },
  );
}

export async function listDirectory(dir: string): Promise<ItemFile[]> {
  const files = (
    await walk(dir).catch((cause) => {
      throw listError(dir, cause);
    })
  )
    .filter(isItemFile)
    .sort(byPath);
  if (files.length === 0)
    throw noItems(dir, `Items are ${ITEM_EXTENSIONS.join(' ')} files (searched recursively; dotfiles skipped).`);
  return files.map((rel) => ({ path: join(dir, rel), id: rel }));
}

/** `*` and `?` stay within one path segment, `**` crosses segments, `[...]` is a character class. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export async function listGlob(pattern: string): Promise<ItemFile[]> {
  const parts = pattern.replace(/\\/g, '/').split('/');
  const firstGlob = parts.findIndex(isGlobPattern);
  const base = parts.slice(0, firstGlob).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const re = globRegExp(parts.slice(firstGlob).join('/'));
  const files = await walk(base).catch((cause) => {
    throw new NeurotapError(
      'E_FILE_NOT_FOUND',
      `Expected a directory ${base} to search for ${pattern}; could not read it.`,
      { hint: 'Check the part of the pattern before the first wildcard.', cause },
    );
  });
  const matched = files.filter((rel) => re.test(rel)).sort(byPath);
  if (matched.length === 0)
    throw noItems(
      `the files matching ${pattern}`,
      'Quote the pattern so the shell leaves it to neurotap; ** matches any number of directories.',
    );
  const prefix = firstGlob === 0 ? '' : `${base.replace(/\/$/, '')}/`;
  return matched.map((rel) => ({ path: join(base, rel), id: `${prefix}${rel}` }));
}

/** One path per line, relative to the list file's directory; blank lines and `#` comments skipped. */
export async function listFile(path: string): Promise<ItemFile[]> {
  const text = await readFile(path, 'utf8').catch((cause) => {
    throw listError(path, cause);
  });
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw noItems(path, 'Write one item path per line (relative to the list file).');
  return lines.map((line) => ({ path: isAbsolute(line) ? line : resolve(dirname(path), line), id: line }));
}
