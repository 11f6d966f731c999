/**
 * Content fingerprints of a data set's input files (Node only), recorded in the manifest so that a
 * resume or another shard refuses to continue a store when the inputs changed since (same shape,
 * different contents would otherwise mix old and new chunks). Content only, no mtime: a copy of the
 * same data on another machine has the same fingerprint.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { NeurotapError } from '../../errors.js';
import { READ_NONBLOCKING } from '../files.js';

/** Files up to this size are hashed whole; larger ones by SAMPLES evenly spaced blocks and their size. */
const FULL_HASH_BYTES = 4 << 20;
const SAMPLES = 16;
const SAMPLE_BYTES = 64 << 10;

/** `size:sha256` (first 32 hex digits) of one file's contents, sampled for large files. */
export async function fingerprintFile(path: string): Promise<string> {
  const handle = await open(path, READ_NONBLOCKING).catch((cause) => {
    throw new NeurotapError('E_FILE_NOT_FOUND', `Expected an input file at ${path}; could not open it.`, {
      hint: 'Check that the data set is where it was.',
      cause,
    });
  });
  try {
    const { size } = await handle.stat();
    const hash = createHash('sha256');
    if (size <= FULL_HASH_BYTES) hash.update(await handle.readFile());
    else {
      const block = Buffer.alloc(SAMPLE_BYTES);
      for (let i = 0; i < SAMPLES; i++) {
        const at = Math.floor(((size - SAMPLE_BYTES) * i) / (SAMPLES - 1));
        const { bytesRead } = await handle.read(block, 0, SAMPLE_BYTES, at);
        hash.update(block.subarray(0, bytesRead));
      }
    }
    return `${size}:${hash.digest('hex').slice(0, 32)}`;
  } finally {
    await handle.close();
  }
}

/** Fingerprints by path, a few files at a time. */
export async function fingerprintFiles(paths: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < paths.length; i += 8) {
    const batch = paths.slice(i, i + 8);
    const prints = await Promise.all(batch.map(fingerprintFile));
    batch.forEach((p, j) => {
      out[p] = prints[j];
    });
  }
  return out;
}
