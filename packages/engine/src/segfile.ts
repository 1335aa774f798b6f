// Invariant: a segment file (and a WAL file, which becomes a segment by rename) is a 32-byte
// header followed by densely packed records; a scan returns only records whose header CRC, bounds
// and payload CRC all verify, so damaged bytes are never served. Damage does not end the scan
// (engine-bugs.md #2: one flipped byte in a WAL must not lose every later acknowledged record):
// * a record whose header verifies but whose payload CRC fails is skipped by its (verified)
//   length; the scan goes on right after it;
// * a record whose header verifies but which runs past the end of the file is a torn tail: the
//   scan stops there (the file ends inside it, so nothing after it can be a record);
// * a header that fails its CRC gives no trustworthy length: the scan resynchronises at the next
//   offset where a whole record verifies (magic, header CRC, bounds, payload CRC) and whose seq
//   is above the last accepted one, and from then on requires ascending seqs (every segment is
//   written in seq order). A torn tail of a few bytes finds nothing and ends the scan.
// Hazards of resynchronising, named where they bite: a record image stored INSIDE a user value
// (say, a WAL file saved as a blob) also verifies; it can only be picked up when the header of
// the very record that holds it is damaged, and then only with a seq that fits the gap. And after
// a power loss that tore the last unsynced write with a hole, records written after the hole
// (unacknowledged) can be replayed although an earlier one was lost; a process kill leaves no
// holes (the page cache keeps every completed write), so this bends prefix durability only then.
//
// File header (32 bytes, little-endian):
//   0 "BLOBSEG1"  8 u32 version (1)  12 u32 segment id  16 u64 created-at ms  24 u32 reserved
//   28 u32 crc32(bytes 0..27)

import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { hashKey } from './keyhash.ts';
import {
  decodeHeader,
  headerAndKeyBytes,
  payloadCrcOk,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
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
  /** Damaged byte ranges [start, end) skipped before validEnd (a torn tail is not listed). */
  readonly skipped: readonly { readonly start: number; readonly end: number }[];
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

/** Reads exactly [pos, pos+len) into `into` (which must be len bytes long) or a fresh buffer. */
export async function readExact(fh: FileHandle, pos: number, len: number, into?: Buffer): Promise<Buffer> {
  assert(into === undefined || into.length === len, 'read target is exactly the range');
  const out = into ?? Buffer.allocUnsafe(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(out, off, len - off, pos + off);
    if (bytesRead === 0) throw new Error(`short read at ${pos + off} (wanted ${len - off} more bytes)`);
    off += bytesRead;
  }
  return out;
}

/** What one position of a file holds, as far as it can be verified. */
type Probe =
  | { readonly kind: 'ok'; readonly entry: SegEntry; readonly value: Buffer }
  /** Header verified, payload CRC failed: `len` is trustworthy. */
  | { readonly kind: 'badPayload'; readonly len: number }
  /** Header verified, record runs past the end of the file. */
  | { readonly kind: 'torn' }
  /** No verifiable header here. */
  | { readonly kind: 'bad' };

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(RECORD_MAGIC, 0);

async function probe(r: WindowReader, pos: number, size: number, maxValueBytes: number): Promise<Probe> {
  const h = await r.read(pos, RECORD_HEADER_BYTES);
  if (!h) return { kind: 'bad' };
  const hk = await r.read(pos, headerAndKeyBytes(h, 0));
  if (!hk) return { kind: 'bad' };
  const rh = decodeHeader(hk, 0, maxValueBytes);
  if (!rh) return { kind: 'bad' };
  const len = RECORD_HEADER_BYTES + rh.keyLen + rh.valueLen;
  if (pos + len > size) return { kind: 'torn' };
  const body = await r.read(pos + RECORD_HEADER_BYTES, rh.keyLen + rh.valueLen);
  if (!body) return { kind: 'torn' };
  const value = body.subarray(rh.keyLen);
  if (!payloadCrcOk(rh, value)) return { kind: 'badPayload', len };
  const key = Buffer.from(body.subarray(0, rh.keyLen));
  const entry: SegEntry = {
    hash: hashKey(key),
    key,
    pos,
    len,
    valueLen: rh.valueLen,
    seq: rh.seq,
    tombstone: rh.tombstone,
  };
  return { kind: 'ok', entry, value };
}

/**
 * Cheap rejection of a resync candidate from its UNVERIFIED fields (only ever used to reject, never
 * to size anything): keeps a damaged region full of magic-like bytes from costing a CRC each.
 */
function implausible(h: Buffer, pos: number, size: number, maxValueBytes: number): boolean {
  const keyLen = h.readUInt16LE(24);
  const valueLen = readU64(h, 26);
  return keyLen === 0 || valueLen > maxValueBytes || pos + RECORD_HEADER_BYTES + keyLen + valueLen > size;
}

/**
 * Next offset >= `from` where a whole record verifies with seq > `afterSeq`, or undefined. Reads
 * the file in windows (bounded memory); a magic straddling two windows is found (overlap of 3).
 */
async function resync(
  r: WindowReader,
  from: number,
  size: number,
  maxValueBytes: number,
  afterSeq: number,
): Promise<Extract<Probe, { kind: 'ok' }> | undefined> {
  const CHUNK = 1024 * 1024;
  let base = from;
  while (base + RECORD_HEADER_BYTES <= size) {
    const n = Math.min(CHUNK, size - base);
    // A copy: probing candidates moves the reader's window.
    const chunk = Buffer.from((await r.read(base, n)) ?? Buffer.alloc(0));
    let i = chunk.indexOf(MAGIC_BYTES);
    while (i !== -1) {
      const pos = base + i;
      const h = await r.read(pos, RECORD_HEADER_BYTES);
      if (h && !implausible(h, pos, size, maxValueBytes)) {
        const p = await probe(r, pos, size, maxValueBytes);
        if (p.kind === 'ok' && p.entry.seq > afterSeq) return p;
      }
      i = chunk.indexOf(MAGIC_BYTES, i + 1);
    }
    if (base + n >= size) break;
    base += n - (MAGIC_BYTES.length - 1);
  }
  return undefined;
}

/**
 * Scans a segment/WAL file record by record, verifying header CRC then payload CRC; damaged
 * records are skipped (see the invariant at the top), a torn tail ends the scan. `onValue` lets
 * the caller capture small values (for LMDB).
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
  if (!header) return { segId: undefined, entries: [], validEnd: 0, fileBytes: size, skipped: [] };
  const entries: SegEntry[] = [];
  const skipped: { start: number; end: number }[] = [];
  let pos = SEG_HEADER_BYTES;
  let validEnd = pos;
  let lastSeq = -1;
  let resynced = false;
  const accept = (p: Extract<Probe, { kind: 'ok' }>): void => {
    entries.push(p.entry);
    onValue?.(p.entry, p.value);
    lastSeq = p.entry.seq;
    pos = p.entry.pos + p.entry.len;
    validEnd = pos;
  };
  while (pos < size) {
    let p = await probe(r, pos, size, maxValueBytes);
    // After a resync, order is part of the proof that a record is one this file was written with.
    if (p.kind === 'ok' && resynced && p.entry.seq <= lastSeq) p = { kind: 'bad' };
    if (p.kind === 'ok') {
      accept(p);
    } else if (p.kind === 'torn') {
      break;
    } else if (p.kind === 'badPayload') {
      skipped.push({ start: pos, end: pos + p.len });
      pos += p.len;
    } else {
      const next = await resync(r, pos + 1, size, maxValueBytes, lastSeq);
      if (!next) break; // a torn tail (or trailing garbage): nothing verifies after it
      skipped.push({ start: pos, end: next.entry.pos });
      resynced = true;
      accept(next);
    }
  }
  // A skipped range after the last accepted record is part of the cut tail, not a gap.
  while (skipped.length > 0 && skipped[skipped.length - 1]!.start >= validEnd) skipped.pop();
  return { segId: header.segId, entries, validEnd, fileBytes: size, skipped };
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
