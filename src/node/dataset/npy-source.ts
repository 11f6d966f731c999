/**
 * One `.npy` file whose first axis runs over items, read a batch of rows at a time (Node only), so
 * a data set larger than memory streams; and `.npz` archives, which are read whole (zip entries
 * may be compressed, so rows cannot be located without inflating: use `.npy` for large sets).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { NeurotapError } from '../../errors.js';
import { readFileBytes } from '../files.js';
import { ELEMENT, typedArrayAt, type NumericDType } from '../../formats/npy.js';
import { parseNpz } from '../../formats/npz.js';
import type { NeurotapModel } from '../../model.js';
import { sizeOf, type HostTensor } from '../../tensor.js';
import { arraySource } from '../../dataset/array-source.js';
import { castToInput, nameArrays } from '../../dataset/fit.js';
import { NPY_DESCR } from '../../dataset/formats.js';
import type { DataSource } from '../../dataset/types.js';

const DTYPE_OF_DESCR = new Map(Object.entries(NPY_DESCR).map(([dtype, descr]) => [descr, dtype as NumericDType]));

interface NpyLayout {
  type: NumericDType;
  dims: number[];
  dataStart: number;
}

function badNpy(path: string, message: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_FILE', `${path}: ${message}`, { hint });
}

/** The header only: magic, version, then a Python dict literal with descr, fortran_order and shape. */
async function readNpyLayout(handle: FileHandle, path: string): Promise<NpyLayout> {
  const head = new Uint8Array(12);
  await handle.read(head, 0, 12, 0);
  if (String.fromCharCode(...head.subarray(1, 6)) !== 'NUMPY' || head[0] !== 0x93) {
    throw badNpy(
      path,
      'expected an .npy file (it does not start with "\\x93NUMPY").',
      'Save the stacked items with numpy.save().',
    );
  }
  const view = new DataView(head.buffer);
  const [headerStart, headerLength] = head[6] === 1 ? [10, view.getUint16(8, true)] : [12, view.getUint32(8, true)];
  const header = new Uint8Array(headerLength);
  await handle.read(header, 0, headerLength, headerStart);
  const text = new TextDecoder('latin1').decode(header);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1] ?? '';
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1] ?? '';
  const type = DTYPE_OF_DESCR.get(descr.replace(/^=/, '<').replace(/^<([iub]1)$/, '|$1'));
  const fortran = /['"]fortran_order['"]\s*:\s*True/.test(text);
  if (!type || fortran) {
    throw badNpy(
      path,
      `expected a C-ordered little-endian numeric array; got descr '${descr}'${fortran ? ', fortran_order True' : ''}.`,
      "Re-save it: np.save(path, np.ascontiguousarray(a, dtype=a.dtype.newbyteorder('<'))).",
    );
  }
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (dims.length === 0 || dims.some((d) => !Number.isSafeInteger(d))) {
    throw badNpy(
      path,
      `expected items on the first axis; the shape is (${shape}).`,
      'Stack the items: np.save(path, np.stack(items)).',
    );
  }
  return { type, dims, dataStart: headerStart + headerLength };
}

export async function npySource(model: NeurotapModel, path: string): Promise<DataSource> {
  const handle = await open(path, 'r').catch((cause) => {
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
      const bytes = new Uint8Array((end - start) * rowBytes);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, layout.dataStart + start * rowBytes);
      if (bytesRead < bytes.length)
        throw badNpy(
          path,
          `rows ${start}-${end} lie past the end of the file.`,
          'The file is truncated; write it again.',
        );
      const t: HostTensor = {
        type: layout.type,
        dims: [end - start, ...layout.dims.slice(1)],
        data: typedArrayAt(bytes, 0, bytes.length / ELEMENT[layout.type].bytes, layout.type),
      };
      return { [name]: castToInput(model, name, t) };
    },
    describe: () => ({ kind: 'npy', path, count: layout.dims[0], dtype: layout.type, shape: layout.dims }),
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
  return arraySource(cast, { description: { kind: 'npz', path } });
}
