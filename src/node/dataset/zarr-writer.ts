/**
 * Writing a data set into a Zarr v3 store through zarrita (Node only): one array per key at the
 * store root, shaped [items, ...], chunked by `chunkSize` items (the manifest's `chunks.size`),
 * uncompressed little-endian bytes (what zarr-python 3, xarray and zarrita read without extra codecs).
 *
 * Besides the Zarr metadata, the store holds `.neurotap/manifest.json` (written last when the
 * store is created: its presence means every array exists) and `.neurotap/chunks/K.json` per
 * completed chunk K, with the SHA-256 of every file of that chunk, written after those files.
 */
import { readFile } from 'node:fs/promises';
import * as zarr from 'zarrita';
import type { AbsolutePath } from 'zarrita';
import { NeurotapError } from '../../errors.js';
import type { DType, HostTensor, TypedArray } from '../../tensor.js';
import type { DatasetManifest } from '../../dataset/manifest.js';
import type { DatasetStore } from './dataset-store.js';
import { sha256, ZarritaStore } from './zarr-store.js';
import type { DatasetBatch } from '../../dataset/types.js';

export const META_DIR = '.neurotap';
export const MANIFEST_PATH = `${META_DIR}/manifest.json`;
export const RECORDS_DIR = `${META_DIR}/chunks`;

/** What `.neurotap/chunks/K.json` holds: the chunk's items and the checksum of each file written for it. */
export interface ChunkRecord {
  chunk: number;
  items: [number, number];
  files: Record<string, string>;
}

type ZarrArray = zarr.Array<zarr.DataType, RecordingStore>;

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

/** C-order strides of a shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = shape.length - 1, s = 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** zarrita's view of the store, remembering the SHA-256 of each object written, for the completion records. */
class RecordingStore extends ZarritaStore {
  #written = new Map<string, string>();

  override async set(key: AbsolutePath, value: Uint8Array): Promise<void> {
    await super.set(key, value);
    this.#written.set(key.replace(/^\//, ''), sha256(value));
  }

  /** Keys written since the last call, with the SHA-256 of their bytes; clears the list. */
  takeWritten(): Map<string, string> {
    const written = this.#written;
    this.#written = new Map();
    return written;
  }
}

export class ZarrDatasetWriter {
  private constructor(
    readonly store: DatasetStore,
    private readonly zarrStore: RecordingStore,
    private readonly arrays: Map<string, ZarrArray>,
  ) {}

  /** Writes the root group, every array's metadata, then the manifest; identical bytes from every shard. */
  static async create(store: DatasetStore, manifest: DatasetManifest): Promise<ZarrDatasetWriter> {
    const zarrStore = new RecordingStore(store);
    const root = zarr.root(zarrStore);
    const arrays = new Map<string, ZarrArray>();
    for (const k of manifest.keys) {
      const dtype = zarrDtype(k.dtype, k.key);
      const arr = await zarr.create(root.resolve(k.array), {
        shape: k.shape,
        chunkShape: [manifest.chunks.size, ...k.shape.slice(1)],
        dtype,
        codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
        chunkSeparator: '.',
        // NaN marks items never written in float arrays, which a reader then cannot mistake for data.
        fillValue: (dtype.startsWith('float') ? NaN : dtype === 'bool' ? false : 0) as never,
        dimensionNames: ['item', ...k.shape.slice(1).map((_, i) => `${k.array}_${i + 1}`)],
        attributes: { neurotap_key: k.key, sample_axis: k.sampleAxis, ...(k.module ? { module: k.module } : {}) },
      });
      arrays.set(k.key, arr as ZarrArray);
    }
    const keys = Object.fromEntries(manifest.keys.map((k) => [k.key, k.array]));
    await zarr.create(root, {
      attributes: {
        neurotap: { format: manifest.format, manifest: MANIFEST_PATH, model_sha256: manifest.model.sha256, keys },
      },
    });
    await store.put(MANIFEST_PATH, jsonBytes(manifest));
    return new ZarrDatasetWriter(store, zarrStore, arrays);
  }

  static async open(store: DatasetStore, manifest: DatasetManifest): Promise<ZarrDatasetWriter> {
    const zarrStore = new RecordingStore(store);
    const root = zarr.root(zarrStore);
    const arrays = new Map<string, ZarrArray>();
    for (const k of manifest.keys)
      arrays.set(k.key, (await zarr.open(root.resolve(k.array), { kind: 'array' })) as ZarrArray);
    return new ZarrDatasetWriter(store, zarrStore, arrays);
  }

  /** Chunks with a completion record (what `--resume` skips). */
  async completedChunks(): Promise<Set<number>> {
    const keys = await this.store.list(`${RECORDS_DIR}/`);
    const names = keys.map((k) => k.slice(RECORDS_DIR.length + 1));
    return new Set(names.filter((n) => /^\d+\.json$/.test(n)).map((n) => Number(n.slice(0, -5))));
  }

  /**
   * Writes every array's file of one whole chunk (its items gathered by a ChunkAssembler), then
   * the record that declares the chunk complete.
   */
  async writeChunk(chunk: DatasetBatch): Promise<ChunkRecord> {
    this.zarrStore.takeWritten();
    const end = chunk.start + chunk.itemIds.length;
    // All arrays at once: the time goes to file-system round trips, which libuv runs in parallel.
    await Promise.all(
      [...this.arrays].map(([key, arr]) => {
        const t = chunk.activations.get(key) as HostTensor;
        const selection = [zarr.slice(chunk.start, end), ...t.dims.slice(1).map(() => null)];
        return zarr.set(arr, selection, {
          data: t.data as TypedArray,
          shape: [...t.dims],
          stride: strides(t.dims),
        } as never);
      }),
    );
    const files = Object.fromEntries([...this.zarrStore.takeWritten()].sort(([a], [b]) => (a < b ? -1 : 1)));
    const record: ChunkRecord = { chunk: chunk.chunk, items: [chunk.start, end], files };
    await this.store.put(`${RECORDS_DIR}/${chunk.chunk}.json`, jsonBytes(record));
    return record;
  }
}
