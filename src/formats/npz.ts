/**
 * NumPy `.npz` archives (isomorphic): a zip of `.npy` files, one per array.
 */
import { zipSync, type Zippable } from 'fflate';
import { NeurotapError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { checkTensor } from './elements.js';
import { encodeNpy, parseNpy } from './npy.js';
import { readZipEntry, type ZipEntry, zipEntries } from './zip.js';

// A fixed timestamp makes identical tensors give identical archives (diffable, cacheable).
const ENTRY_TIME = new Date(1980, 0, 2);

/** The most bytes parseNpz inflates by default (all arrays together): 2 GiB. */
export const DEFAULT_NPZ_MAX_BYTES = 2 ** 31;

export interface ParseNpzOptions {
  /** The most bytes the arrays may take once inflated, all together (default 2 GiB). */
  maxBytes?: number;
}

/**
 * Reads an .npz archive (np.savez or np.savez_compressed: stored or deflated entries).
 * Keys are the entry names without `.npy`; entries that are not .npy files are skipped.
 * The archive is untrusted: the sizes it declares are checked against the file and `maxBytes`
 * before anything is inflated, and no entry inflates past its declared size (zip bombs).
 */
export function parseNpz(bytes: Uint8Array, options: ParseNpzOptions = {}): Map<string, HostTensor> {
  const maxBytes = options.maxBytes ?? DEFAULT_NPZ_MAX_BYTES;
  const entries = npyEntries(bytes);
  const total = entries.reduce((sum, e) => sum + e.size, 0);
  if (total > maxBytes)
    throw new NeurotapError(
      'E_BAD_FILE',
      `The .npz archive declares ${total} bytes of arrays once inflated; at most ${maxBytes} are read.`,
      {
        hint: 'Split the arrays over several files, or save large data sets as one .npy (streamed row by row).',
        details: { declaredBytes: total, maxBytes },
      },
    );
  const tensors = new Map<string, HostTensor>();
  for (const entry of entries) {
    const key = entry.name.slice(0, -'.npy'.length);
    const data = readZipEntry(bytes, entry); // its errors name the entry
    try {
      tensors.set(key, parseNpy(data));
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

/** The archive's .npy entries, each name once. */
function npyEntries(bytes: Uint8Array): ZipEntry[] {
  const entries = zipEntries(bytes, 'an .npz (zip) archive').filter((e) => e.name.endsWith('.npy'));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name))
      throw new NeurotapError('E_BAD_FILE', `The .npz archive holds "${e.name}" twice.`, {
        hint: 'Write the archive again with one entry per array.',
      });
    seen.add(e.name);
  }
  return entries;
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
