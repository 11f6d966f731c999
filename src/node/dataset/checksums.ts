/**
 * Checksums of a store's chunk files (Node only). They guard against torn and lost writes (a crash
 * before a group commit, a partial copy) and bit rot, not against tampering, so a CRC is enough:
 * CRC-32 from node:zlib runs at about twice the speed of SHA-256 on one core and needs no package.
 * Records hold `crc32:XXXXXXXX`; stores written before hold 64 hex digits of SHA-256, which
 * `verify` and `--resume` still read.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';

// zlib.crc32 came with Node 20.15; on an older Node, new records fall back to SHA-256.
const crc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The checksum a completion record stores for a file of these parts, one after the other. */
export function checksum(parts: readonly Uint8Array[]): string {
  if (!crc32) {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest('hex');
  }
  const value = parts.reduce((crc, part) => crc32(part, crc), 0);
  return `crc32:${value.toString(16).padStart(8, '0')}`;
}

/** Whether bytes match a recorded checksum of either kind. */
export function matchesChecksum(bytes: Uint8Array, recorded: string): boolean {
  if (recorded.startsWith('crc32:')) return crc32 !== undefined && checksum([bytes]) === recorded;
  return sha256(bytes) === recorded;
}
