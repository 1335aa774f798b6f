// Invariant: the LMDB key index is derived data and is never opened unless it is known intact:
// a clean close writes `clean.json` (fingerprint of the segment set + size and CRC32 of
// data.mdb); open trusts the database only if that file matches, removes it (durably) before any
// write, and otherwise deletes the directory and rebuilds it from the segments. A damaged LMDB
// file can therefore never fault the process inside lmdb's C code. While open, it is updated in
// one synchronous transaction per flush/eviction batch (never one per put), in the same tick as
// the in-memory index, so LMDB + unflushed memtables always describe exactly the live keys.
//
// Sub-databases: k2v: user key -> [16 B hash][u8 flags][u32 value length][inline value]
//                h2k: hash -> user key (eviction/drain find the key of a hash)

import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { Logger } from 'pino';
import { isNotFound, syncDir, unlinkIfExists, writeFileAtomic } from './fsutil.ts';
import { DEFAULT_PROGRESS_LOG_INTERVAL_MS, Progress } from './progress.ts';

export const FLAG_INLINE = 1;

export interface KeyRow {
  readonly hash: Buffer;
  readonly valueLen: number;
  readonly inline: Buffer | undefined;
}

export type KeyOp =
  | {
      readonly kind: 'put';
      readonly key: Buffer;
      readonly hash: Buffer;
      readonly valueLen: number;
      readonly inline: Uint8Array | undefined;
    }
  | { readonly kind: 'del'; readonly key: Buffer; readonly hash: Buffer };

export function encodeRow(hash: Buffer, valueLen: number, inline: Uint8Array | undefined): Buffer {
  const buf = Buffer.allocUnsafe(21 + (inline ? inline.length : 0));
  hash.copy(buf, 0);
  buf.writeUInt8(inline ? FLAG_INLINE : 0, 16);
  buf.writeUInt32LE(valueLen, 17);
  if (inline) buf.set(inline, 21);
  return buf;
}

export function decodeRow(buf: Buffer): KeyRow | undefined {
  if (buf.length < 21) return undefined;
  const inline = (buf.readUInt8(16) & FLAG_INLINE) !== 0 ? Buffer.from(buf.subarray(21)) : undefined;
  return { hash: Buffer.from(buf.subarray(0, 16)), valueLen: buf.readUInt32LE(17), inline };
}

/** Like decodeRow, but hash and inline value alias `buf` (which must be private to the caller). */
export function rowView(buf: Buffer): KeyRow | undefined {
  if (buf.length < 21) return undefined;
  const inline = (buf[16]! & FLAG_INLINE) !== 0 ? buf.subarray(21) : undefined;
  return { hash: buf.subarray(0, 16), valueLen: buf.readUInt32LE(17), inline };
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class KeyIndex {
  private readonly root: RootDatabase;
  private readonly k2v: Database<Buffer, Buffer>;
  private readonly h2k: Database<Buffer, Buffer>;
  /** Bumped on every write batch; iterators refetch their window when it moves. */
  generation = 0;
  /**
   * False after a write batch failed: the rows may then lag the hash index, so get() must not
   * serve values from them any more (the engine is degraded anyway; reads go to the segments).
   */
  servable = true;

  private constructor(root: RootDatabase) {
    this.root = root;
    this.k2v = root.openDB<Buffer, Buffer>('k2v', { keyEncoding: 'binary', encoding: 'binary' });
    this.h2k = root.openDB<Buffer, Buffer>('h2k', { keyEncoding: 'binary', encoding: 'binary' });
  }

  /**
   * Opens the database at `path` (a directory). Returns fresh=true when it had to be recreated
   * (missing, not cleanly closed, damaged, or describing another segment set): rebuild it then.
   */
  static async open(
    path: string,
    fingerprint: string,
    logger: Logger,
    progressLogIntervalMs: number = DEFAULT_PROGRESS_LOG_INTERVAL_MS,
  ): Promise<{ index: KeyIndex; fresh: boolean }> {
    const trusted = await isClean(path, fingerprint, { logger, intervalMs: progressLogIntervalMs });
    if (!trusted) {
      logger.info({ path }, 'key index not cleanly closed for this segment set: rebuilding');
      await rm(path, { recursive: true, force: true });
    }
    await mkdir(path, { recursive: true });
    await unlinkIfExists(join(path, CLEAN_FILE));
    await syncDir(path);
    const root = open({
      path,
      noSubdir: false,
      keyEncoding: 'binary',
      encoding: 'binary',
      noSync: true,
      maxDbs: 4,
    });
    return { index: new KeyIndex(root), fresh: !trusted };
  }

  /** After close(): records that the database is complete for this segment set. */
  static async markClean(path: string, fingerprint: string, report?: CrcReport): Promise<void> {
    const { size, crc } = await fileCrc(join(path, DATA_FILE), report);
    const doc: CleanDoc = { fingerprint, dataBytes: size, dataCrc: crc };
    await writeFileAtomic(join(path, CLEAN_FILE), path, Buffer.from(JSON.stringify(doc)));
  }

  clear(): void {
    this.k2v.clearSync();
    this.h2k.clearSync();
    this.generation++;
  }

  apply(ops: readonly KeyOp[]): void {
    if (ops.length === 0) return;
    this.servable = false; // until the batch is known applied
    this.root.transactionSync(() => {
      for (const op of ops) {
        if (op.kind === 'put') {
          this.k2v.put(op.key, encodeRow(op.hash, op.valueLen, op.inline));
          this.h2k.put(op.hash, op.key);
        } else {
          // only remove rows that still belong to this hash
          const row = this.k2v.get(op.key);
          if (row?.subarray(0, 16).equals(op.hash)) this.k2v.remove(op.key);
          const k = this.h2k.get(op.hash);
          if (k?.equals(op.key)) this.h2k.remove(op.hash);
        }
      }
    });
    this.servable = true;
    this.generation++;
  }

  /**
   * The inline value stored for `key` if its row belongs to `hash` and holds exactly `valueLen`
   * bytes inline; a private copy. Synchronous (memory-mapped read, no thread pool hop). The
   * caller must know the row is current (no newer unflushed version, the hash index agrees):
   * rows are written in the same synchronous step as the hash index, so it is.
   */
  inlineValue(key: Buffer, hash: Buffer, valueLen: number): Buffer | undefined {
    if (!this.servable) return undefined;
    // getBinaryFast: a buffer reused by the next LMDB call, so copy out before returning.
    const v = this.k2v.getBinaryFast(key);
    if (!v || v.length !== 21 + valueLen || (v[16]! & FLAG_INLINE) === 0) return undefined;
    if (v.readUInt32LE(17) !== valueLen || hash.compare(v, 0, 16, 0, 16) !== 0) return undefined;
    return Buffer.from(v.subarray(21));
  }

  get(key: Buffer): KeyRow | undefined {
    const v = this.k2v.get(key);
    return v ? decodeRow(v) : undefined;
  }

  keyForHash(hash: Buffer): Buffer | undefined {
    const k = this.h2k.get(hash);
    return k ? Buffer.from(k) : undefined;
  }

  /**
   * Up to `limit` raw rows (encodeRow layout: the first 16 bytes are the hash, the value length
   * is a u32 at 17, the inline value starts at 21; decode with rowView) with key > after (or >= from), below `end` (exclusive). */
  window(
    from: Buffer | undefined,
    after: Buffer | undefined,
    end: Buffer | undefined,
    limit: number,
  ): { key: Buffer; raw: Buffer }[] {
    const out: { key: Buffer; raw: Buffer }[] = [];
    const start = after ?? from;
    const opts: { start?: Buffer; end?: Buffer; limit: number } = { limit: limit + 1 };
    if (start) opts.start = start;
    if (end) opts.end = end;
    for (const { key, value } of this.k2v.getRange(opts)) {
      if (after && Buffer.compare(key, after) <= 0) continue;
      // lmdb hands out fresh copies of range keys and binary values (not the shared read
      // buffer), so rows may alias them instead of copying again; decode with rowView()
      if (value.length >= 21) out.push({ key: asBuffer(key), raw: value });
      if (out.length >= limit) break;
    }
    return out;
  }

  count(): number {
    return this.k2v.getCount();
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

const CLEAN_FILE = 'clean.json';
const DATA_FILE = 'data.mdb';

interface CleanDoc {
  fingerprint: string;
  dataBytes: number;
  dataCrc: number;
}

/** Where a checksum pass over a large data.mdb reports its progress. */
interface CrcReport {
  readonly logger: Logger;
  readonly intervalMs: number;
}

async function fileCrc(path: string, report?: CrcReport): Promise<{ size: number; crc: number }> {
  let crc = 0;
  let size = 0;
  // A data.mdb of several GiB takes seconds to read: worth progress lines (one clock read per MiB).
  const progress = report
    ? new Progress(report.logger, {
        task: 'key index checksum',
        unit: 'chunks',
        totalBytes: (await stat(path)).size,
        intervalMs: report.intervalMs,
      })
    : undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    crc = crc32(chunk as Buffer, crc);
    size += (chunk as Buffer).length;
    progress?.advance(1, (chunk as Buffer).length);
  }
  progress?.finish();
  return { size, crc: crc >>> 0 };
}

async function isClean(path: string, fingerprint: string, report: CrcReport): Promise<boolean> {
  let doc: CleanDoc;
  try {
    doc = JSON.parse(await readFile(join(path, CLEAN_FILE), 'utf8')) as CleanDoc;
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return false;
    throw err;
  }
  if (doc.fingerprint !== fingerprint) return false;
  try {
    if ((await stat(join(path, DATA_FILE))).size !== doc.dataBytes) return false;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  const { size, crc } = await fileCrc(join(path, DATA_FILE), report);
  return size === doc.dataBytes && crc === doc.dataCrc;
}
