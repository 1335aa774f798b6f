// Invariant: a segment file (and a WAL file, which becomes a segment by rename) is a 32-byte
// header followed by densely packed records; a scan never trusts a record past the first one that
// fails its header CRC, its bounds or its payload CRC, so a torn tail is cut, never served.
//
// File header (32 bytes, little-endian):
//   0 "BLOBSEG1"  8 u32 version (1)  12 u32 segment id  16 u64 created-at ms  24 u32 reserved
//   28 u32 crc32(bytes 0..27)

import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { hashKey } from './keyhash.ts';
import {
  decodeHeader,
  headerAndKeyBytes,
  payloadCrcOk,
  RECORD_HEADER_BYTES,
  readU64,
  writeU64,
} from './record.ts';

export const SEG_MAGIC = Buffer.from('BLOBSEG1', 'latin1');
export const SEG_VERSION = 1;
export const SEG_HEADER_BYTES = 32;

export function encodeSegHeader(dst: Buffer, segId: number): void {
  SEG_MAGIC.copy(dst, 0);
  dst.writeUInt32LE(SEG_VERSION, 8);
  dst.writeUInt32LE(segId >>> 0, 12);
  writeU64(dst, 16, Date.now());
  dst.writeUInt32LE(0, 24);
  dst.writeUInt32LE(crc32(dst.subarray(0, 28)) >>> 0, 28);
}

export function decodeSegHeader(buf: Buffer): { segId: number; createdAtMs: number } | undefined {
  if (buf.length < SEG_HEADER_BYTES) return undefined;
  if (!buf.subarray(0, 8).equals(SEG_MAGIC)) return undefined;
  if (crc32(buf.subarray(0, 28)) >>> 0 !== buf.readUInt32LE(28)) return undefined;
  if (buf.readUInt32LE(8) !== SEG_VERSION) return undefined;
  return { segId: buf.readUInt32LE(12), createdAtMs: readU64(buf, 16) };
}

/** One record found by a scan (or listed in a footer). */
export interface SegEntry {
  readonly hash: Buffer;
  readonly key: Buffer;
  /** Offset of the record magic in the segment file. */
  readonly pos: number;
  /** Whole record length: header + key + value. */
  readonly len: number;
  readonly valueLen: number;
  readonly seq: number;
  readonly tombstone: boolean;
}

export interface ScanResult {
  readonly segId: number | undefined;
  /** Every valid record, in file order (duplicates of a hash possible). */
  readonly entries: SegEntry[];
  /** End of the last valid record: the file is truncated here by WAL recovery. */
  readonly validEnd: number;
  readonly fileBytes: number;
}

const WINDOW_BYTES = 4 * 1024 * 1024;

/** Reads [pos, pos+len) through a sliding window so small records cost no syscall each. */
class WindowReader {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private readonly fh: FileHandle;
  private readonly size: number;
  constructor(fh: FileHandle, size: number) {
    this.fh = fh;
    this.size = size;
  }
  async read(pos: number, len: number): Promise<Buffer | undefined> {
    if (pos + len > this.size) return undefined;
    if (pos >= this.start && pos + len <= this.start + this.buf.length) {
      return this.buf.subarray(pos - this.start, pos - this.start + len);
    }
    if (len > WINDOW_BYTES) return readExact(this.fh, pos, len);
    const n = Math.min(WINDOW_BYTES, this.size - pos);
    this.buf = await readExact(this.fh, pos, n);
    this.start = pos;
    return this.buf.subarray(0, len);
  }
}

export async function readExact(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(out, off, len - off, pos + off);
    if (bytesRead === 0) throw new Error(`short read at ${pos + off} (wanted ${len - off} more bytes)`);
    off += bytesRead;
  }
  return out;
}

/**
 * Scans a segment/WAL file record by record, verifying header CRC then payload CRC, and stops at
 * the first invalid record. `withValues` lets the caller capture small values (for LMDB).
 */
export async function scanSegmentFile(
  fh: FileHandle,
  maxValueBytes: number,
  onValue?: (e: SegEntry, value: Buffer) => void,
): Promise<ScanResult> {
  const { size } = await fh.stat();
  const r = new WindowReader(fh, size);
  const hb = await r.read(0, SEG_HEADER_BYTES);
  const header = hb ? decodeSegHeader(hb) : undefined;
  if (!header) return { segId: undefined, entries: [], validEnd: 0, fileBytes: size };
  const entries: SegEntry[] = [];
  let pos = SEG_HEADER_BYTES;
  for (;;) {
    const h = await r.read(pos, RECORD_HEADER_BYTES);
    if (!h) break;
    const hk = await r.read(pos, headerAndKeyBytes(h, 0));
    if (!hk) break;
    const rh = decodeHeader(hk, 0, maxValueBytes);
    if (!rh) break;
    const len = RECORD_HEADER_BYTES + rh.keyLen + rh.valueLen;
    const body = await r.read(pos + RECORD_HEADER_BYTES, rh.keyLen + rh.valueLen);
    if (!body) break;
    const value = body.subarray(rh.keyLen);
    if (!payloadCrcOk(rh, value)) break;
    const key = Buffer.from(body.subarray(0, rh.keyLen));
    const e: SegEntry = {
      hash: hashKey(key),
      key,
      pos,
      len,
      valueLen: rh.valueLen,
      seq: rh.seq,
      tombstone: rh.tombstone,
    };
    entries.push(e);
    onValue?.(e, value);
    pos += len;
  }
  return { segId: header.segId, entries, validEnd: pos, fileBytes: size };
}

/** Keeps only the highest-seq entry per hash (a footer lists each hash of a segment once). */
export function latestPerHash(entries: readonly SegEntry[]): SegEntry[] {
  const byHash = new Map<string, SegEntry>();
  for (const e of entries) {
    const k = e.hash.toString('latin1');
    const prev = byHash.get(k);
    if (!prev || prev.seq < e.seq) byHash.set(k, e);
  }
  return [...byHash.values()].sort((a, b) => a.pos - b.pos);
}
