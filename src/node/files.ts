/**
 * File reading and crash-safe writing (Node only).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { NeurotapError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { checkTensor } from '../formats/elements.js';
import { encodeNpy } from '../formats/npy.js';
import { encodeNpz } from '../formats/npz.js';
import { encodeSafetensors } from '../formats/safetensors.js';

/** Read-only, and without blocking on a FIFO (no effect on regular files). */
export const READ_NONBLOCKING = constants.O_RDONLY | constants.O_NONBLOCK;

export type TensorFileFormat = 'npz' | 'safetensors' | 'npy-directory';

function osCode(cause: unknown): string | undefined {
  return (cause as NodeJS.ErrnoException | undefined)?.code;
}

/** What went wrong writing `path`, in words a user can act on (disk full, read-only, ...): E_OUTPUT_PATH. */
export function outputError(path: string, cause: unknown): NeurotapError {
  const code = osCode(cause);
  const reasons: Record<string, [string, string]> = {
    ENOENT: [
      `its directory ${dirname(resolve(path))} does not exist`,
      'Create the directory first, or write somewhere that exists.',
    ],
    EACCES: ['permission denied', 'Write to a directory you own, or fix its permissions.'],
    EPERM: ['permission denied', 'Write to a directory you own, or fix its permissions.'],
    EISDIR: [
      'it is a directory',
      'Give a file name, e.g. out.npz, or end the path with / to write one .npy per tensor.',
    ],
    ENOTDIR: ['part of the path is a file, not a directory', 'Check each directory in the path.'],
    EEXIST: ['a file with that name exists where a directory is needed', 'Pick another path, or remove the file.'],
    ENOSPC: ['the disk is full', 'Free some space or write elsewhere.'],
    EROFS: ['the file system is read-only', 'Write to a writable location.'],
  };
  const [reason, hint] = reasons[code ?? ''] ?? [
    (cause as Error)?.message ?? String(cause),
    'Check the path and try again.',
  ];
  return new NeurotapError(
    'E_OUTPUT_PATH',
    `Expected to write ${path}; could not: ${reason}${code ? ` (${code})` : ''}.`,
    {
      hint,
      cause,
      details: { path, osCode: code },
    },
  );
}

/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * prefix: the bytes go to a temporary file next to the target, are flushed, then renamed over it.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | Uint8Array[]): Promise<void> {
  const chunks = data instanceof Uint8Array ? [data] : data;
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx');
    try {
      for (const chunk of chunks) await writeFully(handle, chunk);
      await handle.datasync(); // without it a crash soon after the rename can leave an empty file
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw outputError(path, cause);
  }
}

async function writeFully(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  // write() may write fewer bytes than asked; loop until the chunk is out.
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}

/** Reads a whole file; `what` names it in errors ("input file", "model"...). */
export async function readFileBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    const buffer = await readRegularFile(path, what);
    // A plain Uint8Array: Buffer's slice() returns views, which surprises code written for Uint8Array.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (cause) {
    if (cause instanceof NeurotapError) throw cause;
    const code = osCode(cause);
    if (code === 'ENOENT') {
      throw new NeurotapError('E_FILE_NOT_FOUND', `Expected ${what} at ${path}; no such file.`, {
        hint: `Check the path; relative paths are resolved from ${process.cwd()}.`,
        cause,
      });
    }
    const reason =
      code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (cause as Error).message;
    throw new NeurotapError('E_BAD_FILE', `Expected ${what} at ${path} to be a readable file; ${reason}.`, {
      hint: code === 'EISDIR' ? 'Give the path of a file inside the directory.' : 'Check the file and its permissions.',
      cause,
    });
  }
}

/**
 * The bytes of a regular file, checked on the open descriptor: a device (/dev/zero), a FIFO or a
 * socket would be read forever or block, so they are refused (E_BAD_FILE) before any read; so is
 * an empty file, which no reader accepts (and whose decoders' errors say little).
 */
async function readRegularFile(path: string, what: string): Promise<Buffer> {
  const handle = await open(path, READ_NONBLOCKING); // opening a FIFO must not wait for a writer
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!info.isFile())
      throw new NeurotapError(
        'E_BAD_FILE',
        `Expected ${what} at ${path} to be a regular file; it is ${kindOf(info)}.`,
        {
          hint: 'Save the data to a file first and give its path.',
        },
      );
    if (info.size === 0)
      throw new NeurotapError('E_BAD_FILE', `Expected ${what} at ${path}; the file is empty (0 bytes).`, {
        hint: 'The file was not written completely; write it again.',
      });
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function kindOf(info: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): string {
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return info.isFIFO() ? 'a pipe (FIFO)' : 'a socket';
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function outputFormat(path: string): Promise<TensorFileFormat> {
  if (/[\\/]$/.test(path) || (await isDirectory(path))) return 'npy-directory';
  const extension = extname(path).toLowerCase();
  if (extension === '.npz') return 'npz';
  if (extension === '.safetensors') return 'safetensors';
  if (extension === '') return 'npy-directory';
  throw new NeurotapError(
    'E_OUTPUT_PATH',
    `Expected an output path ending in .npz, .safetensors or / (a directory); got ${path}.`,
    {
      hint: 'Use out.npz (numpy), out.safetensors (metadata kept), or out/ for one .npy file per tensor plus index.json.',
    },
  );
}

/** Characters no file name may hold on some OS (Windows forbids `<>:"|?*`, every OS a separator), and `%` itself. */
const UNSAFE_IN_NAMES = /[%<>:"|?*\\/\u0000-\u001f]/g;
/** Names Windows reserves whatever the extension (`CON.npy` is the console). */
const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

/**
 * The .npy file name for a tensor key, valid on every OS: unsafe characters percent-encoded
 * (`proj:2` -> `proj%3A2.npy`, `/fc/Add_output_0` -> `%2Ffc%2FAdd_output_0.npy`); index.json keeps the key.
 */
export function npyFileName(key: string): string {
  const encoded = key.replace(
    UNSAFE_IN_NAMES,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
  // A trailing dot or space is dropped by Windows; a reserved name is a device.
  const safe = RESERVED.test(encoded) || /[. ]$/.test(encoded) || encoded === '' ? `${encoded}%` : encoded;
  return `${safe}.npy`;
}

function planDirectory(entries: Map<string, HostTensor>): Record<string, string> {
  const index: Record<string, string> = {};
  const keyOfFile = new Map<string, string>();
  for (const [key, tensor] of entries) {
    checkTensor(`Tensor "${key}"`, tensor); // before writing anything, so bad input leaves no partial directory
    const file = npyFileName(key);
    const other = keyOfFile.get(file);
    if (other !== undefined) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected tensor keys that map to distinct file names; "${other}" and "${key}" both become ${file}.`,
        {
          hint: 'Write to .npz or .safetensors instead, which keep keys verbatim.',
        },
      );
    }
    keyOfFile.set(file, key);
    index[key] = file;
  }
  return index;
}

async function writeNpyDirectory(dir: string, entries: Map<string, HostTensor>): Promise<string[]> {
  const index = planDirectory(entries);
  await mkdir(dir, { recursive: true }).catch((cause) => {
    throw outputError(dir, cause);
  });
  const written: string[] = [];
  for (const [key, tensor] of entries) {
    const file = join(dir, index[key]);
    await writeFileAtomic(file, encodeNpy(tensor)); // one at a time: only one encoded copy in memory
    written.push(file);
  }
  // index.json last: its presence says every file it lists is complete.
  const indexPath = join(dir, 'index.json');
  await writeFileAtomic(indexPath, new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`));
  return [...written, indexPath];
}

/**
 * Writes tensors in the format the path asks for: `.npz`, `.safetensors` (both keep `metadata`:
 * safetensors' `__metadata__`, the `.npz`'s `__metadata__` member), or a directory (path ending in `/`, an existing directory, or no extension) holding
 * one `.npy` per key plus `index.json` (key -> file). Returns the format and the files written.
 */
export async function writeTensors(
  path: string,
  entries: Map<string, HostTensor>,
  metadata?: Record<string, string>,
): Promise<{ format: TensorFileFormat; files: string[] }> {
  const format = await outputFormat(path);
  if (format === 'npy-directory') return { format, files: await writeNpyDirectory(path, entries) };
  const bytes = format === 'npz' ? encodeNpz(entries, metadata) : encodeSafetensors(entries, metadata);
  await writeFileAtomic(path, bytes);
  return { format, files: [path] };
}
