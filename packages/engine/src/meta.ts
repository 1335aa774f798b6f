// Invariant: a `.meta` file is either absent, or starts with a complete footer block whose CRC
// verifies, followed by zero or more tombstone batches; a batch is applied only if its own CRC
// verifies (a torn append is ignored). A tombstone ("dead mark") names a hash whose entry IN THIS
// SEGMENT is dead: because a footer lists each hash once, the mark is unambiguous. Appends are
// fdatasync'ed before the caller is told they happened (hazard 5.2-5).
//
// Footer block (little-endian):
//   header 48 B: u32 magic 0xB10B3E7A, u32 version 1, u64 segment id, u64 ctime ms, u64 min seq,
//                u64 max seq, u64 entry count
//   entries: 64 B each + key bytes: 16 B hash, u64 pos, u64 logical size, u64 physical size,
//            u64 seq, u64 flags (bit 33 tombstone), u16 key length, 6 B pad, then the key
//   tail 20 B: u64 data length (header + entries), u32 crc32(data), u64 magic 0xB10BCA4EB10BCA4E
// Tombstone batch: u8 0xDD, u32 count, u64 unix ms, count x 16 B hash, u32 crc32(batch so far)

import { crc32 } from 'node:zlib';
import { RECORD_HEADER_BYTES, readU64, writeU64 } from './record.ts';
import type { SegEntry } from './segfile.ts';

const META_MAGIC = 0xb10b3e7a;
const META_VERSION = 1;
const HEADER_BYTES = 48;
const ENTRY_BYTES = 64;
const TAIL_BYTES = 20;
const TAIL_MAGIC_LO = 0xb10bca4e;
const TAIL_MAGIC_HI = 0xb10bca4e;
const TOMB_MAGIC = 0xdd;
const TOMB_HEADER_BYTES = 13;

export interface Footer {
  readonly segId: number;
  readonly entries: SegEntry[];
  readonly minSeq: number;
  readonly maxSeq: number;
}

export interface MetaContents {
  readonly footer: Footer;
  /** Hashes (latin1 strings of the 16 bytes) dead in this segment. */
  readonly dead: Set<string>;
  /** Byte length of the valid prefix (footer + intact batches). */
  readonly validBytes: number;
}

export function encodeFooter(segId: number, entries: readonly SegEntry[]): Buffer {
  let size = HEADER_BYTES + TAIL_BYTES;
  let minSeq = Number.MAX_SAFE_INTEGER;
  let maxSeq = 0;
  for (const e of entries) {
    size += ENTRY_BYTES + e.key.length;
    if (e.seq < minSeq) minSeq = e.seq;
    if (e.seq > maxSeq) maxSeq = e.seq;
  }
  if (entries.length === 0) minSeq = 0;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(META_MAGIC, 0);
  buf.writeUInt32LE(META_VERSION, 4);
  writeU64(buf, 8, segId);
  writeU64(buf, 16, Date.now());
  writeU64(buf, 24, minSeq);
  writeU64(buf, 32, maxSeq);
  writeU64(buf, 40, entries.length);
  let p = HEADER_BYTES;
  for (const e of entries) {
    e.hash.copy(buf, p);
    writeU64(buf, p + 16, e.pos);
    writeU64(buf, p + 24, e.valueLen);
    writeU64(buf, p + 32, e.valueLen);
    writeU64(buf, p + 40, e.seq);
    buf.writeUInt32LE(0, p + 48);
    buf.writeUInt32LE(e.tombstone ? 2 : 0, p + 52);
    buf.writeUInt16LE(e.key.length, p + 56);
    e.key.copy(buf, p + ENTRY_BYTES);
    p += ENTRY_BYTES + e.key.length;
  }
  writeU64(buf, p, p);
  buf.writeUInt32LE(crc32(buf.subarray(0, p)) >>> 0, p + 8);
  buf.writeUInt32LE(TAIL_MAGIC_LO, p + 12);
  buf.writeUInt32LE(TAIL_MAGIC_HI, p + 16);
  return buf;
}

export function encodeTombstoneBatch(hashes: readonly Buffer[]): Buffer {
  const buf = Buffer.alloc(TOMB_HEADER_BYTES + hashes.length * 16 + 4);
  buf.writeUInt8(TOMB_MAGIC, 0);
  buf.writeUInt32LE(hashes.length, 1);
  writeU64(buf, 5, Date.now());
  let p = TOMB_HEADER_BYTES;
  for (const h of hashes) {
    h.copy(buf, p);
    p += 16;
  }
  buf.writeUInt32LE(crc32(buf.subarray(0, p)) >>> 0, p);
  return buf;
}

/** Parses a whole `.meta` file; undefined when the footer block is missing or corrupt. */
export function decodeMeta(buf: Buffer, maxKeyBytes: number): MetaContents | undefined {
  if (buf.length < HEADER_BYTES + TAIL_BYTES) return undefined;
  if (buf.readUInt32LE(0) !== META_MAGIC || buf.readUInt32LE(4) !== META_VERSION) return undefined;
  const segId = readU64(buf, 8);
  const minSeq = readU64(buf, 24);
  const maxSeq = readU64(buf, 32);
  const count = readU64(buf, 40);
  // Bound the count by the file size before looping on it.
  if (count > (buf.length - HEADER_BYTES) / ENTRY_BYTES) return undefined;
  const entries: SegEntry[] = [];
  let p = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (p + ENTRY_BYTES > buf.length) return undefined;
    const keyLen = buf.readUInt16LE(p + 56);
    if (keyLen === 0 || keyLen > maxKeyBytes || p + ENTRY_BYTES + keyLen > buf.length) return undefined;
    const valueLen = readU64(buf, p + 32);
    entries.push({
      hash: Buffer.from(buf.subarray(p, p + 16)),
      pos: readU64(buf, p + 16),
      valueLen,
      len: RECORD_HEADER_BYTES + keyLen + valueLen,
      seq: readU64(buf, p + 40),
      tombstone: (buf.readUInt32LE(p + 52) & 2) !== 0,
      key: Buffer.from(buf.subarray(p + ENTRY_BYTES, p + ENTRY_BYTES + keyLen)),
    });
    p += ENTRY_BYTES + keyLen;
  }
  if (p + TAIL_BYTES > buf.length) return undefined;
  if (readU64(buf, p) !== p) return undefined;
  if (crc32(buf.subarray(0, p)) >>> 0 !== buf.readUInt32LE(p + 8)) return undefined;
  if (buf.readUInt32LE(p + 12) !== TAIL_MAGIC_LO || buf.readUInt32LE(p + 16) !== TAIL_MAGIC_HI)
    return undefined;
  p += TAIL_BYTES;
  const dead = new Set<string>();
  while (p + TOMB_HEADER_BYTES <= buf.length && buf.readUInt8(p) === TOMB_MAGIC) {
    const n = buf.readUInt32LE(p + 1);
    const end = p + TOMB_HEADER_BYTES + n * 16;
    if (end + 4 > buf.length) break; // torn append
    if (crc32(buf.subarray(p, end)) >>> 0 !== buf.readUInt32LE(end)) break;
    for (let q = p + TOMB_HEADER_BYTES; q < end; q += 16) dead.add(buf.toString('latin1', q, q + 16));
    p = end + 4;
  }
  return { footer: { segId, entries, minSeq, maxSeq }, dead, validBytes: p };
}
