/**
 * `verifyStore`: checks a Zarr store written by `writeDataset` (Node only): every array's metadata
 * matches the manifest, every chunk has a completion record, and every file of every chunk
 * exists and has the SHA-256 its record holds. It reads every byte, so it also catches bit rot
 * and files copied incompletely between machines.
 *
 * ```ts
 * const report = await verifyStore('acts.zarr');
 * if (!report.ok) console.log(report.missingChunks, report.badFiles);
 * ```
 */
import { NeurotapError } from '../../errors.js';
import type { DatasetManifest } from '../../dataset/manifest.js';
import type { DatasetStore } from './dataset-store.js';
import { matchesChecksum } from './checksums.js';
import { type OpenStoreOptions, openDatasetStore, type StoreTarget } from './open-store.js';
import { chunkKey, MANIFEST_PATH, RECORDS_DIR, readStoreJson, type ChunkRecord } from './zarr-writer.js';

export { chunkKey }; // where it was defined before the writer needed it

/** Chunks checked at once (their reads in flight together). */
const CHUNKS_AT_ONCE = 8;

export interface BadFile {
  chunk: number;
  file: string;
  problem: 'missing' | 'checksum' | 'not recorded';
}

export interface VerifyReport {
  path: string;
  ok: boolean;
  items: number;
  arrays: number;
  chunks: { total: number; complete: number };
  /** Chunks without a completion record: never written, or interrupted before the end. */
  missingChunks: number[];
  badFiles: BadFile[];
  /** Arrays whose zarr.json disagrees with the manifest (or is missing). */
  badArrays: { array: string; problem: string }[];
  /**
   * Temporary files of an interrupted write: never read, so the data is still whole (they do not
   * make `ok` false), but the store is not clean; `--resume` removes them.
   */
  tempFiles: string[];
}

/** The parts of an array's zarr.json that must agree with the manifest. */
interface ArrayMetadata {
  shape?: number[];
  data_type?: string;
  chunk_grid?: { configuration?: { chunk_shape?: number[] } };
}

async function checkArray(
  store: DatasetStore,
  manifest: DatasetManifest,
  k: DatasetManifest['keys'][number],
): Promise<string | undefined> {
  const meta = await readStoreJson<ArrayMetadata>(store, `${k.array}/zarr.json`).catch(() => undefined);
  if (!meta) return 'zarr.json is missing or not JSON';
  const chunkShape = meta.chunk_grid?.configuration?.chunk_shape;
  if (JSON.stringify(meta.shape) !== JSON.stringify(k.shape))
    return `shape ${JSON.stringify(meta.shape)}, manifest ${JSON.stringify(k.shape)}`;
  if (meta.data_type !== k.dtype) return `data_type ${meta.data_type}, manifest ${k.dtype}`;
  if (chunkShape?.[0] !== manifest.chunks.size)
    return `chunk size ${chunkShape?.[0]}, manifest ${manifest.chunks.size}`;
  return undefined;
}

/** The bad files of a recorded chunk, or 'missing' when it has no record. */
export async function checkChunk(
  store: DatasetStore,
  manifest: DatasetManifest,
  chunk: number,
): Promise<BadFile[] | 'missing'> {
  const record = await readStoreJson<ChunkRecord>(store, `${RECORDS_DIR}/${chunk}.json`).catch(() => undefined);
  if (!record) return 'missing';
  const expected = manifest.keys.map((k) => chunkKey(k.array, chunk, k.shape.length));
  const bad: BadFile[] = expected
    .filter((f) => !(f in record.files))
    .map((file) => ({ chunk, file, problem: 'not recorded' as const }));
  await Promise.all(
    Object.entries(record.files).map(async ([file, hash]) => {
      const bytes = await store.get(file).catch(() => undefined);
      if (!bytes) bad.push({ chunk, file, problem: 'missing' });
      else if (!matchesChecksum(bytes, hash)) bad.push({ chunk, file, problem: 'checksum' });
    }),
  );
  return bad.sort((a, b) => (a.file < b.file ? -1 : 1));
}

/** Verifies the store at a path or URL (or a store object). */
export async function verifyStore(target: StoreTarget, options: OpenStoreOptions = {}): Promise<VerifyReport> {
  const store = openDatasetStore(target, options);
  const path = store.location;
  // A damaged manifest is reported below; a store that cannot be read (no bucket, no access) as itself.
  const manifest = await readStoreJson<DatasetManifest>(store, MANIFEST_PATH).catch((err) => {
    if ((err as Error).cause instanceof SyntaxError) return undefined;
    throw err;
  });
  if (!manifest) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Expected a neurotap Zarr store at ${path}; it has no readable ${MANIFEST_PATH}.`,
      {
        hint: 'Only Zarr stores written by writeDataset can be verified; a store whose creation was interrupted has no manifest yet: run the extraction again.',
      },
    );
  }
  const badArrays: VerifyReport['badArrays'] = [];
  for (const k of manifest.keys) {
    const problem = await checkArray(store, manifest, k);
    if (problem) badArrays.push({ array: k.array, problem });
  }
  const missingChunks: number[] = [];
  const badFiles: BadFile[] = [];
  // Several chunks at a time: on object storage each read is a round trip (the store bounds the requests).
  const chunks = Array.from({ length: manifest.chunks.count }, (_, chunk) => chunk);
  for (let at = 0; at < chunks.length; at += CHUNKS_AT_ONCE) {
    const batch = chunks.slice(at, at + CHUNKS_AT_ONCE);
    const results = await Promise.all(batch.map((chunk) => checkChunk(store, manifest, chunk)));
    results.forEach((result, i) => {
      if (result === 'missing') missingChunks.push(batch[i]);
      else badFiles.push(...result);
    });
  }
  const total = manifest.chunks.count;
  const tempFiles = await store.leftovers();
  const ok = missingChunks.length === 0 && badFiles.length === 0 && badArrays.length === 0;
  return {
    path,
    ok,
    items: manifest.items.count,
    arrays: manifest.keys.length,
    chunks: { total, complete: total - missingChunks.length },
    missingChunks,
    badFiles,
    badArrays,
    tempFiles,
  };
}

/**
 * The recorded chunks among `planned` whose files all match their record: what a resume may skip.
 * A record whose files were lost or torn (a crash before the group commit) is removed, and its
 * chunk written again.
 */
export async function verifiedChunks(
  store: DatasetStore,
  manifest: DatasetManifest,
  recorded: Set<number>,
  planned: readonly number[],
): Promise<Set<number>> {
  const good = new Set<number>();
  const mine = planned.filter((chunk) => recorded.has(chunk));
  for (let at = 0; at < mine.length; at += CHUNKS_AT_ONCE) {
    const batch = mine.slice(at, at + CHUNKS_AT_ONCE);
    const results = await Promise.all(batch.map((chunk) => checkChunk(store, manifest, chunk)));
    const torn = batch.filter((chunk, i) => {
      const bad = results[i];
      if (bad !== 'missing' && bad.length === 0) good.add(chunk);
      return !good.has(chunk);
    });
    if (torn.length) await store.delete(torn.map((chunk) => `${RECORDS_DIR}/${chunk}.json`));
  }
  return good;
}
