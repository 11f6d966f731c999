/**
 * Reading zip archives (isomorphic) without trusting them: every size the archive declares is
 * checked against the file and a byte budget before anything is allocated, and a deflated entry is
 * inflated in small steps into a buffer of its declared size, so an entry that inflates to more
 * (a zip bomb lying about its size) stops at that size. Zip64 sizes and offsets are read.
 * Format: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
 */
import { Inflate } from 'fflate';
import { NeurotapError } from '../errors.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const EOCD_BYTES = 22;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
/** Compressed bytes inflated per step: at most ~1032 times as many come out of one step. */
const INFLATE_STEP = 4096;
/** Deflate's largest expansion (258 bytes from under 2 bits), with slack for block headers. */
const MAX_DEFLATE_RATIO = 1032;

const NOT_ZIP_HINT =
  'Save arrays with numpy.savez() or numpy.savez_compressed(); a single array is an .npy file (np.save).';

function badZip(message: string, hint = 'The archive is damaged or was not written by a zip tool; write it again.') {
  return new NeurotapError('E_BAD_FILE', message, { hint });
}

function u64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw badZip(`A zip64 size or offset (${value}) is out of range.`);
  return Number(value);
}

/** The end-of-central-directory record: where the central directory is and how many entries it has. */
function centralDirectory(view: DataView, what: string): { offset: number; size: number; count: number } {
  const last = view.byteLength - EOCD_BYTES;
  let at = -1;
  for (let i = last; i >= Math.max(0, last - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0)
    throw badZip(
      `Expected ${what}; its ${view.byteLength} bytes hold no zip end-of-central-directory record.`,
      NOT_ZIP_HINT,
    );
  let count = view.getUint16(at + 10, true);
  let size = view.getUint32(at + 12, true);
  let offset = view.getUint32(at + 16, true);
  if ((count === 0xffff || size === 0xffffffff || offset === 0xffffffff) && at >= 20) {
    if (view.getUint32(at - 20, true) === ZIP64_LOCATOR) {
      const record = u64(view, at - 12);
      if (record + 56 > view.byteLength || view.getUint32(record, true) !== ZIP64_EOCD)
        throw badZip('The zip64 end-of-central-directory record lies outside the archive.');
      count = u64(view, record + 32);
      size = u64(view, record + 40);
      offset = u64(view, record + 48);
    }
  }
  if (offset + size > view.byteLength)
    throw badZip(
      `The zip central directory (${size} bytes at ${offset}) lies past the end of the ${view.byteLength}-byte file.`,
    );
  if (count * CENTRAL_BYTES > size)
    throw badZip(
      `The zip archive claims ${count} entries; its central directory holds at most ${Math.floor(size / CENTRAL_BYTES)}.`,
    );
  return { offset, size, count };
}

/** Sizes and offset from a central entry, replaced by its zip64 extra field where they overflow 32 bits. */
function entrySizes(view: DataView, at: number, extraStart: number, extraEnd: number) {
  let compressedSize = view.getUint32(at + 20, true);
  let size = view.getUint32(at + 24, true);
  let localHeaderOffset = view.getUint32(at + 42, true);
  for (let e = extraStart; e + 4 <= extraEnd; e += 4 + view.getUint16(e + 2, true)) {
    if (view.getUint16(e, true) !== 1) continue;
    let field = e + 4;
    const next = () => {
      if (field + 8 > extraEnd) throw badZip('A zip64 extra field is shorter than its sizes.');
      field += 8;
      return u64(view, field - 8);
    };
    if (size === 0xffffffff) size = next();
    if (compressedSize === 0xffffffff) compressedSize = next();
    if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
  }
  return { compressedSize, size, localHeaderOffset };
}

/** Every entry the central directory lists, each checked to lie inside the file. */
export function zipEntries(bytes: Uint8Array, what = 'a zip archive'): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < EOCD_BYTES)
    throw badZip(
      `Expected ${what}; got ${bytes.length === 0 ? 'an empty file' : `only ${bytes.length} bytes`}.`,
      NOT_ZIP_HINT,
    );
  const dir = centralDirectory(view, what);
  const entries: ZipEntry[] = [];
  const utf8 = new TextDecoder('utf-8');
  let at = dir.offset;
  for (let i = 0; i < dir.count; i++) {
    if (at + CENTRAL_BYTES > dir.offset + dir.size || view.getUint32(at, true) !== CENTRAL)
      throw badZip(`Zip entry ${i + 1} of ${dir.count} is not where the central directory says.`);
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const next = at + CENTRAL_BYTES + nameLength + extraLength + view.getUint16(at + 32, true);
    if (next > dir.offset + dir.size) throw badZip(`Zip entry ${i + 1} runs past the central directory.`);
    const name = utf8.decode(bytes.subarray(at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameLength));
    if (flags & 1) throw badZip(`Zip entry '${name}' is encrypted.`, 'Write the archive without a password.');
    const nameEnd = at + CENTRAL_BYTES + nameLength;
    const sizes = entrySizes(view, at, nameEnd, nameEnd + extraLength);
    entries.push({ name, method: view.getUint16(at + 10, true), ...sizes });
    at = next;
  }
  return entries;
}

/** Where an entry's data starts, read from its local header; the data must end inside the file. */
function dataRange(bytes: Uint8Array, entry: ZipEntry): [number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localHeaderOffset;
  if (at + LOCAL_BYTES > bytes.length || view.getUint32(at, true) !== LOCAL)
    throw badZip(`Zip entry '${entry.name}' has no local header at offset ${at}.`);
  const start = at + LOCAL_BYTES + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length)
    throw badZip(
      `Zip entry '${entry.name}' claims ${entry.compressedSize} compressed bytes; the file ends ${end - bytes.length} bytes before them.`,
      'The file is truncated; write it again.',
    );
  return [start, end];
}

/**
 * An entry's bytes: stored ones are a view, deflated ones are inflated into exactly `entry.size`
 * bytes, failing as soon as the stream would give more, or when it ends with fewer.
 */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const [start, end] = dataRange(bytes, entry);
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size)
      throw badZip(`Stored zip entry '${entry.name}' declares ${entry.size} bytes but holds ${entry.compressedSize}.`);
    return bytes.subarray(start, end);
  }
  if (entry.method !== 8)
    throw badZip(
      `Zip entry '${entry.name}' uses compression method ${entry.method}; expected stored (0) or deflate (8).`,
      'Write the archive with numpy.savez() or numpy.savez_compressed().',
    );
  if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024)
    throw badZip(
      `Zip entry '${entry.name}' declares ${entry.size} bytes from ${entry.compressedSize} compressed; deflate expands at most ${MAX_DEFLATE_RATIO} times.`,
    );
  const out = new Uint8Array(entry.size);
  let filled = 0;
  const inflater = new Inflate((chunk) => {
    if (filled + chunk.length > out.length)
      throw badZip(
        `Zip entry '${entry.name}' inflates to more than the ${entry.size} bytes it declares (a zip bomb, or damage).`,
      );
    out.set(chunk, filled);
    filled += chunk.length;
  });
  try {
    for (let p = start; p < end || p === start; p += INFLATE_STEP)
      inflater.push(bytes.subarray(p, Math.min(p + INFLATE_STEP, end)), p + INFLATE_STEP >= end);
  } catch (cause) {
    if (cause instanceof NeurotapError) throw cause;
    throw badZip(`Zip entry '${entry.name}' is not a valid deflate stream: ${(cause as Error).message}.`);
  }
  if (filled !== out.length)
    throw badZip(`Zip entry '${entry.name}' inflates to ${filled} bytes; it declares ${entry.size}.`);
  return out;
}
