/**
 * `--inputs PATH` to a data source (Node only). What PATH is decides how items are read:
 *
 * | PATH | items |
 * |---|---|
 * | a directory | every .npy, .npz and image file below it, sorted by relative path |
 * | a glob (`data/**\/*.png`, quoted) | the files it matches, sorted |
 * | `.txt` / `.lst` / `.list` | the files it names, one per line |
 * | `.npy` | the rows of its first axis (streamed) |
 * | `.npz` | the rows of its arrays, named after the inputs (read whole) |
 * | `.jsonl` | one sequence of token ids per line |
 */
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { NeurotapError } from '../../errors.js';
import type { NeurotapModel } from '../../model.js';
import { isGlobPattern, listDirectory, listFile, listGlob } from './file-list.js';
import { fileSource, type ImageOptionsFor } from './file-source.js';
import { jsonlSource } from './jsonl-source.js';
import { npySource, npzSource } from './npy-source.js';
import type { DataSource } from '../../dataset/types.js';

export interface OpenSourceOptions {
  /** How image items become tensors, per input (default: loadImageTensor's defaults). */
  image?: ImageOptionsFor;
  /** Padding token for `.jsonl` sequences shorter than the longest (default 0). */
  padId?: number;
}

const LIST_EXTENSIONS = ['.txt', '.lst', '.list'];

export async function openDataSource(
  model: NeurotapModel,
  path: string,
  options: OpenSourceOptions = {},
): Promise<DataSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info && isGlobPattern(path))
    return fileSource(model, await listGlob(path), { kind: 'glob', path }, options.image);
  if (!info)
    throw new NeurotapError('E_FILE_NOT_FOUND', `Expected a data set at ${path}; no such file or directory.`, {
      hint: `Check the path; relative paths are resolved from ${process.cwd()}.`,
    });
  if (info.isDirectory())
    return fileSource(model, await listDirectory(path), { kind: 'directory', path }, options.image);
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return npySource(model, path);
  if (ext === '.npz') return npzSource(model, path);
  if (ext === '.jsonl') return jsonlSource(model, path, options.padId);
  if (LIST_EXTENSIONS.includes(ext))
    return fileSource(model, await listFile(path), { kind: 'list', path }, options.image);
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `Cannot tell what kind of data set ${path} is from its extension '${ext}'.`,
    {
      hint: 'Give a directory, a quoted glob, a list file (.txt), an .npy or .npz with items on the first axis, or a .jsonl of token ids.',
    },
  );
}
