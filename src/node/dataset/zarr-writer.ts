/**
 * Writing a data set into a Zarr v3 store (Node only): one array per key at the store root, shaped
 * [items, ...], chunked by `chunkSize` items (the manifest's `chunks.size`), uncompressed
 * little-endian bytes (what zarr-python 3, xarray and zarrita read without extra codecs). zarrita
 * writes the metadata; chunk files are put whole, straight from memory (chunk-bytes.ts).
 *
 * Besides the Zarr metadata, the store holds `.neurotap/manifest.json` (written last when the
 * store is created: its presence means every array exists) and `.neurotap/chunks/K.json` per
 * completed chunk K, with the checksum of every file of that chunk (checksums.ts), written after
 * those files. Durability comes by group commit (one store sync per COMMIT_BYTES and at the end),
 * so a crash can leave a record whose files were lost: `--resume` checks the files of every
 * record against it before it skips a chunk.
 */
import { readFile } from 'node:fs/promises';
import * as zarr from 'zarrita';
import { NeurotapError } from '../../errors.js';
import type { DType } from '../../tensor.js';
import type { DatasetManifest } from '../../dataset/manifest.js';
import { checksum } from './checksums.js';
import { chunkParts, fillValueOf } from './chunk-bytes.js';
import type { DatasetStore } from './dataset-store.js';
import { ZarritaStore } from './zarr-store.js';
import type { GatheredChunk } from '../../dataset/chunk-gatherer.js';

export const META_DIR = '.neurotap';
export const MANIFEST_PATH = `${META_DIR}/manifest.json`;
export const RECORDS_DIR = `${META_DIR}/chunks`;

/** What `.neurotap/chunks/K.json` holds: the chunk's items and the checksum of each file written for it. */
export interface ChunkRecord {
  chunk: number;
  items: [number, number];
  files: Record<string, string>;
}

const ZARR_DTYPES: Partial<Record<DType, zarr.DataType>> = {
  float32: 'float32',
  float64: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
};

export const jsonBytes = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 1)}\n`);

function parseJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new NeurotapError('E_BAD_FILE', `Expected JSON in ${where}; it is damaged: ${(cause as Error).message}.`, {
      hint: 'The store was damaged (a partial copy, or edited by hand): run `neurotap verify` on it, or write a new store.',
      cause,
    });
  }
}

/** A JSON file, or undefined when absent; a damaged one is E_BAD_FILE (not a bug of neurotap). */
export async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseJson<T>(text, path);
}

/** A JSON object of a store, or undefined when absent; a damaged one is E_BAD_FILE. */
export async function readStoreJson<T>(store: DatasetStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes === undefined ? undefined : parseJson<T>(new TextDecoder().decode(bytes), `${store.location}/${key}`);
}

function zarrDtype(dtype: DType, key: string): zarr.DataType {
  const type = ZARR_DTYPES[dtype];
  if (!type) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Key '${key}' is ${dtype}, which this Zarr writer cannot store (zarrita needs Float16Array for float16; Zarr has no bfloat16).`,
      {
        hint: 'Write a .safetensors file instead, or leave the key out of the selection.',
      },
    );
  }
  return type;
}

/** The store key of chunk `chunk` of an array of rank `rank` ('.'-separated chunk keys). */
export function chunkKey(array: string, chunk: number, rank: number): string {
  return `${array}/c.${[chunk, ...Array<number>(rank - 1).fill(0)].join('.')}`;
}

/** Bytes written between two group commits (a `sync()` of the store), unless given. */
export const COMMIT_BYTES = 256 << 20;

export class ZarrDatasetWriter {
  /** Bytes put since the last commit. */
  #unsynced = 0;
  /** The commit running in the background, if any. */
  #committing: Promise<void> | undefined;

  private constructor(
    readonly store: DatasetStore,
    private readonly manifest: DatasetManifest,
    private readonly commitBytes: number,
  ) {}

  /**
   * Writes the root group and every array's metadata, commits them, then the manifest (its
   * presence means every array exists); identical bytes from every shard.
   */
  static async create(
    store: DatasetStore,
    manifest: DatasetManifest,
    commitBytes = COMMIT_BYTES,
  ): Promise<ZarrDatasetWriter> {
    const root = zarr.root(new ZarritaStore(store));
    for (const k of manifest.keys) {
      const dtype = zarrDtype(k.dtype, k.key);
      await zarr.create(root.resolve(k.array), {
        shape: k.shape,
        chunkShape: [manifest.chunks.size, ...k.shape.slice(1)],
        dtype,
        codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
        chunkSeparator: '.',
        // NaN marks items never written in float arrays, which a reader then cannot mistake for data.
        fillValue: fillValueOf(k.dtype) as never,
        dimensionNames: ['item', ...k.shape.slice(1).map((_, i) => `${k.array}_${i + 1}`)],
        attributes: {
          neurotap_key: k.key,
          sample_axis: k.sampleAxis,
          ...(k.module ? { module: k.module } : {}),
          ...(k.recomputed ? { recomputed: k.recomputed } : {}),
        },
      });
    }
    const keys = Object.fromEntries(manifest.keys.map((k) => [k.key, k.array]));
    await zarr.create(root, {
      attributes: {
        neurotap: { format: manifest.format, manifest: MANIFEST_PATH, model_sha256: manifest.model.sha256, keys },
      },
    });
    await store.sync();
    await store.put(MANIFEST_PATH, jsonBytes(manifest));
    await store.sync();
    return new ZarrDatasetWriter(store, manifest, commitBytes);
  }

  /** The writer of an existing store (every array opened, so a damaged one fails here). */
  static async open(
    store: DatasetStore,
    manifest: DatasetManifest,
    commitBytes = COMMIT_BYTES,
  ): Promise<ZarrDatasetWriter> {
    const root = zarr.root(new ZarritaStore(store));
    for (const k of manifest.keys) await zarr.open(root.resolve(k.array), { kind: 'array' });
    return new ZarrDatasetWriter(store, manifest, commitBytes);
  }

  /** Chunks with a completion record (what `--resume` skips once their files check out). */
  async completedChunks(): Promise<Set<number>> {
    const keys = await this.store.list(`${RECORDS_DIR}/`);
    const names = keys.map((k) => k.slice(RECORDS_DIR.length + 1));
    return new Set(names.filter((n) => /^\d+\.json$/.test(n)).map((n) => Number(n.slice(0, -5))));
  }

  /**
   * Puts every array's file of one whole chunk, each as one object straight from its batches'
   * memory, then the record that declares the chunk complete, with the checksum of every file;
   * starts a commit once COMMIT_BYTES have been put since the last one.
   */
  async writeChunk(chunk: GatheredChunk): Promise<ChunkRecord> {
    const end = chunk.start + chunk.itemIds.length;
    const files: [string, string][] = [];
    let bytes = 0;
    // All arrays at once: the time goes to file-system round trips, which libuv runs in parallel.
    await Promise.all(
      this.manifest.keys.map((k) => {
        const parts = chunkParts(chunk.parts.get(k.key) ?? [], k.dtype, k.shape.slice(1), this.manifest.chunks.size);
        const key = chunkKey(k.array, chunk.chunk, k.shape.length);
        files.push([key, checksum(parts)]);
        bytes += parts.reduce((n, p) => n + p.byteLength, 0);
        return this.store.put(key, parts);
      }),
    );
    files.sort(([a], [b]) => (a < b ? -1 : 1));
    const record: ChunkRecord = { chunk: chunk.chunk, items: [chunk.start, end], files: Object.fromEntries(files) };
    await this.store.put(`${RECORDS_DIR}/${chunk.chunk}.json`, jsonBytes(record));
    this.#unsynced += bytes;
    if (this.#unsynced >= this.commitBytes) await this.#startCommit();
    return record;
  }

  /**
   * Starts a commit and returns once the one before it has ended: the disk flushes one group while
   * the next is computed and written, and at most two groups are ever not durable.
   */
  async #startCommit(): Promise<void> {
    const previous = this.#committing;
    this.#unsynced = 0;
    this.#committing = this.store.sync();
    this.#committing.catch(() => undefined); // surfaced by the next commit's await
    await previous;
  }

  /** Makes everything written so far durable: one sync of the store for many chunks. */
  async commit(): Promise<void> {
    const previous = this.#committing;
    this.#committing = undefined;
    this.#unsynced = 0;
    await previous;
    await this.store.sync();
  }
}
