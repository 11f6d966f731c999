/**
 * One `.npy` file whose first axis runs over items, read a batch of rows at a time (Node only), so
 * a data set larger than memory streams; and `.npz` archives, which are read whole (zip entries
 * may be compressed, so rows cannot be located without inflating: use `.npy` for large sets).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { NeurotapError } from '../../errors.js';
import { READ_NONBLOCKING, readFileBytes } from '../files.js';
import { ELEMENT } from '../../formats/elements.js';
import { decodeNpyData, NPY_PREAMBLE_BYTES, npyHeaderEnd, parseNpyHeader, type NpyHeader } from '../../formats/npy.js';
import { parseNpz } from '../../formats/npz.js';
import type { NeurotapModel } from '../../model.js';
import { sizeOf, type HostTensor } from '../../tensor.js';
import { arraySource } from '../../dataset/array-source.js';
import { castToInput, nameArrays } from '../../dataset/fit.js';
import type { DataSource } from '../../dataset/types.js';

function badNpy(path: string, message: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `${path}: ${message}`, { hint });
}

/** Reads `length` bytes at `position`, or fewer where the file ends. */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  const { bytesRead } = await handle.read(bytes, 0, length, position);
  return bytes.subarray(0, bytesRead);
}

/**
 * The header only (the format's own parser, on the file's first bytes); items lie along the first
 * axis. The rows it claims must be in the file: a header lying about its shape would otherwise
 * make the item list (and every later allocation) as large as the lie.
 */
async function readNpyLayout(handle: FileHandle, path: string): Promise<NpyHeader> {
  let header: NpyHeader;
  try {
    const end = npyHeaderEnd(await readAt(handle, 0, NPY_PREAMBLE_BYTES));
    header = parseNpyHeader(await readAt(handle, 0, end));
  } catch (err) {
    if (!(err instanceof NeurotapError)) throw err;
    throw badNpy(path, err.message, err.hint ?? 'Save the stacked items with numpy.save().');
  }
  if (header.dims.length === 0) {
    throw badNpy(
      path,
      'expected items on the first axis; the array is a scalar.',
      'Stack the items: np.save(path, np.stack(items)).',
    );
  }
  const info = await handle.stat();
  if (!info.isFile())
    throw badNpy(path, 'expected a regular file.', 'Save the data to a file first and give its path.');
  const needed = header.dataStart + sizeOf(header.dims) * ELEMENT[header.type].bytes;
  if (needed > info.size)
    throw badNpy(
      path,
      `the header claims shape (${header.dims.join(', ')}) of ${header.type}, ${needed} bytes; the file has ${info.size}.`,
      'The file is truncated or its header is wrong; write it again with numpy.save().',
    );
  return header;
}

export async function npySource(model: NeurotapModel, path: string): Promise<DataSource> {
  const handle = await open(path, READ_NONBLOCKING).catch((cause) => {
    throw new NeurotapError('E_FILE_NOT_FOUND', `Expected an .npy file at ${path}; could not open it.`, {
      hint: 'Check the path.',
      cause,
    });
  });
  const layout = await readNpyLayout(handle, path).catch(async (err) => {
    await handle.close();
    throw err;
  });
  if (model.inputNames.length !== 1) {
    await handle.close();
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `${path} feeds one input; the model has ${model.inputNames.length} (${model.inputNames.join(', ')}).`,
      {
        hint: 'Use an .npz holding one array per input, named after the inputs.',
      },
    );
  }
  const name = model.inputNames[0];
  const rowBytes = sizeOf(layout.dims.slice(1)) * ELEMENT[layout.type].bytes;
  let closed = false;
  return {
    count: layout.dims[0],
    id: (i) => String(i),
    async read(start, end) {
      const bytes = await readAt(handle, layout.dataStart + start * rowBytes, (end - start) * rowBytes);
      if (bytes.length < (end - start) * rowBytes)
        throw badNpy(
          path,
          `rows ${start}-${end} lie past the end of the file.`,
          'The file is truncated; write it again.',
        );
      const t: HostTensor = {
        type: layout.type,
        dims: [end - start, ...layout.dims.slice(1)],
        data: decodeNpyData(layout, bytes, 0, bytes.length / ELEMENT[layout.type].bytes),
      };
      return { [name]: castToInput(model, name, t) };
    },
    describe: () => ({ kind: 'npy', path, count: layout.dims[0], dtype: layout.type, shape: layout.dims }),
    files: () => [path],
    async close() {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    },
  };
}

export async function npzSource(model: NeurotapModel, path: string): Promise<DataSource> {
  const arrays = parseNpz(await readFileBytes(path, 'an .npz data set'));
  const named = nameArrays(model, arrays, path);
  const cast = Object.fromEntries(Object.entries(named).map(([n, t]) => [n, castToInput(model, n, t)]));
  return { ...arraySource(cast, { description: { kind: 'npz', path } }), files: () => [path] };
}
