/**
 * Hand-built hostile .npz archives: zip entries whose declared sizes are chosen freely, and deflate
 * streams of gigabytes of zeros built in well under a second (one 64 MiB segment, flushed so it
 * stands alone, repeated).
 */
import { constants, deflateRawSync } from 'node:zlib';
import { encodeNpyHeader } from '../../src/formats/npy.js';

export interface BombEntry {
  name: string;
  /** The entry's bytes as stored (deflated when method is 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size the headers declare. */
  declaredSize: number;
}

const SEGMENT_BYTES = 64 << 20;
let segment: Buffer | undefined;

/**
 * A raw deflate stream of an .npy header for `float32` `[n]` followed by `segments` × 64 MiB of
 * zeros (the header says `n` elements; pick n to match or to lie).
 */
export function zerosStream(segments: number, n = (segments * SEGMENT_BYTES) / 4): Uint8Array {
  segment ??= deflateRawSync(Buffer.alloc(SEGMENT_BYTES), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const header = deflateRawSync(encodeNpyHeader('float32', [n]), { finishFlush: constants.Z_FULL_FLUSH });
  const end = Buffer.from([0x03, 0x00]); // a final, empty fixed-Huffman block
  return Buffer.concat([header, ...Array.from({ length: segments }, () => segment!), end]);
}

export const npyHeaderBytes = (n: number) => encodeNpyHeader('float32', [n]).length;

/** A zip archive with these entries, sizes as declared (CRCs are left 0: neurotap does not check them). */
export function buildZip(entries: readonly BombEntry[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.declaredSize, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.method, 10);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.declaredSize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const dir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(dir.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, eocd]);
}
