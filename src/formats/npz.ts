/**
 * NumPy `.npz` archives (isomorphic): a zip of `.npy` files, one per array.
 */
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { NeurotapError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { checkTensor } from './elements.js';
import { encodeNpy, parseNpy } from './npy.js';

// A fixed timestamp makes identical tensors give identical archives (diffable, cacheable).
const ENTRY_TIME = new Date(1980, 0, 2);

/**
 * Reads an .npz archive (np.savez or np.savez_compressed: stored or deflated entries).
 * Keys are the entry names without `.npy`; entries that are not .npy files are skipped.
 */
export function parseNpz(bytes: Uint8Array): Map<string, HostTensor> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (file) => file.name.endsWith('.npy') });
  } catch (cause) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Expected an .npz (zip) archive; could not unzip it: ${(cause as Error).message}.`,
      {
        hint: 'Save arrays with numpy.savez() or numpy.savez_compressed(); a single array is an .npy file.',
        cause,
      },
    );
  }
  const tensors = new Map<string, HostTensor>();
  for (const [name, entry] of Object.entries(files)) {
    const key = name.slice(0, -'.npy'.length);
    try {
      tensors.set(key, parseNpy(entry));
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new NeurotapError('E_BAD_FILE', `Array "${key}" in the .npz archive is not a valid .npy file: ${reason}`, {
        hint: cause instanceof NeurotapError ? cause.hint : 'Write the archive again.',
        cause,
      });
    }
  }
  return tensors;
}

/**
 * Writes an uncompressed .npz archive that np.load() reads. Keys are kept verbatim
 * (`.`, `:`, `#`, `/` included) with `.npy` appended; bfloat16 is widened to float32.
 */
export function encodeNpz(entries: Map<string, HostTensor> | [string, HostTensor][]): Uint8Array {
  const files: Zippable = {};
  for (const [key, tensor] of entries) {
    const name = `${key}.npy`;
    if (Object.hasOwn(files, name)) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected unique array names for the .npz archive; "${key}" is given twice.`,
        {
          hint: 'Rename one of the arrays.',
        },
      );
    }
    checkTensor(`Tensor "${key}"`, tensor); // here, so that an error names the array
    files[name] = [encodeNpy(tensor), { level: 0, mtime: ENTRY_TIME }];
  }
  return zipSync(files);
}
