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
const NPZ_METADATA_KEY = '__metadata__';

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
  const keys = renamedKeys(bytes);
  const tensors = new Map<string, HostTensor>();
  for (const entry of entries) {
    const key = keys[entry.name] ?? entry.name.slice(0, -'.npy'.length);
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

/** The member holding the keys of arrays stored under a sanitised name: `{ entry name: key }`. */
export const NPZ_KEYS_ENTRY = 'neurotap-keys.json';

/** Entry names renamed by encodeNpz, mapped back to their keys (none for archives of other writers). */
function renamedKeys(bytes: Uint8Array): Record<string, string> {
  const entry = zipEntries(bytes).find((e) => e.name === NPZ_KEYS_ENTRY);
  if (!entry || entry.size > 1 << 24) return {};
  try {
    const keys = JSON.parse(new TextDecoder().decode(readZipEntry(bytes, entry)));
    return typeof keys === 'object' && keys !== null ? Object.assign(Object.create(null), keys) : {};
  } catch {
    throw new NeurotapError('E_BAD_FILE', `The .npz archive's ${NPZ_KEYS_ENTRY} is not JSON.`, {
      hint: 'Write the archive again.',
    });
  }
}

/**
 * A key as a zip member name that cannot leave the extraction folder of a naive unzip: segments
 * '', '.' and '..' (a leading '/', '../'), backslashes, drive letters and control characters are
 * replaced by '_'; other keys (`layer1/0.relu`, `in:fc#0`) stay verbatim.
 */
function entryNameOf(key: string): string {
  const unsafe =
    key.split('/').some((s) => s === '' || s === '.' || s === '..') ||
    /[\\\x00-\x1f]/.test(key) ||
    /^[A-Za-z]:/.test(key);
  return `${unsafe ? key.replace(/[\\/:\x00-\x1f]/g, '_').replace(/^\./, '_') : key}.npy`;
}

/**
 * Writes an uncompressed .npz archive that np.load() reads. Keys are kept verbatim
 * (`.`, `:`, `#`, `/` included) with `.npy` appended; bfloat16 is widened to float32. A key that
 * would make a path escaping the folder of a naive extractor (zip-slip: `../x`, `/x`) is stored
 * under a sanitised name, and the key kept in neurotap-keys.json, which parseNpz reads back.
 */
export function encodeNpz(
  entries: Map<string, HostTensor> | [string, HostTensor][],
  metadata: Record<string, string> = {},
): Uint8Array {
  const files: Zippable = {};
  const renamed: Record<string, string> = {};
  const given = new Set<string>();
  for (const [key, tensor] of entries) {
    let name = entryNameOf(key);
    for (let n = 2; name !== `${key}.npy` && (Object.hasOwn(files, name) || name === NPZ_KEYS_ENTRY); n++)
      name = `${entryNameOf(key).slice(0, -4)}~${n}.npy`;
    if (name !== `${key}.npy`) renamed[name] = key;
    if (given.has(key) || Object.hasOwn(files, name)) {
      throw new NeurotapError(
        'E_BAD_ARGUMENT',
        `Expected unique array names for the .npz archive; "${key}" is given twice.`,
        {
          hint: 'Rename one of the arrays.',
        },
      );
    }
    given.add(key);
    checkTensor(`Tensor "${key}"`, tensor); // here, so that an error names the array
    files[name] = [encodeNpy(tensor), { level: 0, mtime: ENTRY_TIME }];
  }
  if (Object.keys(renamed).length)
    files[NPZ_KEYS_ENTRY] = [new TextEncoder().encode(JSON.stringify(renamed)), { level: 0, mtime: ENTRY_TIME }];
  if (Object.keys(metadata).length) {
    if (given.has(NPZ_METADATA_KEY))
      throw new NeurotapError('E_BAD_ARGUMENT', `"${NPZ_METADATA_KEY}" is reserved for the file's metadata.`, {
        hint: 'Rename the array.',
      });
    const data = new TextEncoder().encode(JSON.stringify(metadata));
    files[`${NPZ_METADATA_KEY}.npy`] = [
      encodeNpy({ type: 'uint8', dims: [data.length], data }),
      { level: 0, mtime: ENTRY_TIME },
    ];
  }
  return zipSync(files);
}

/**
 * The `.npz` metadata member neurotap and neurotap_torch write (`__metadata__`: a JSON object of
 * strings, as uint8 bytes, like safetensors' `__metadata__`), taken out of the parsed arrays.
 */
export function takeNpzMetadata(tensors: Map<string, HostTensor>): Record<string, string> {
  const raw = tensors.get(NPZ_METADATA_KEY);
  if (!raw || raw.type !== 'uint8') return {};
  tensors.delete(NPZ_METADATA_KEY);
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(raw.data as Uint8Array));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}
