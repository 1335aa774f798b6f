// Invariant: the LMDB key index is derived data and is never opened unless it is known intact:
// a clean close writes `clean.json` (fingerprint of the segment set + size and CRC32 of
// data.mdb); open trusts the database only if that file matches, removes it (durably) before any
// write, and otherwise deletes the directory and rebuilds it from the segments. A damaged LMDB
// file can therefore never fault the process inside lmdb's C code. While open, every write batch
// (one per flush/eviction batch, never one per put) changes what this class answers in the same
// tick as the in-memory index, so LMDB + unflushed memtables always describe exactly the live
// keys: a batch is either applied in one synchronous transaction, or written behind
// (applyBehind: lmdb's write thread does the B-tree work) and then kept as a pending overlay that
// every read here (get, keyForHash, inlineValue, window) consults first, until lmdb reports it
// committed. Writes never overtake each other: while any batch is pending, apply() writes behind
// too (lmdb commits its asynchronous writes in issue order).
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
import { lowerBound } from './memtable.ts';
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

/** Bytes of a row: [16 B hash][u8 flags][u32 value length][inline value]. */
function rowBytes(inline: Uint8Array | undefined): number {
  return 21 + (inline ? inline.length : 0);
}

function encodeRowInto(buf: Buffer, hash: Buffer, valueLen: number, inline: Uint8Array | undefined): void {
  hash.copy(buf, 0);
  buf[16] = inline ? FLAG_INLINE : 0;
  buf.writeUInt32LE(valueLen, 17);
  if (inline) buf.set(inline, 21);
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

/**
 * A batch written behind and not yet committed. Its effect per op is recorded as it is issued;
 * the maps a read needs (newest effect per key / hash) are built only when a read asks while the
 * batch is pending (materialize): a write-only stream never pays for them (~20 ms per 30 k rows).
 */
interface PendingBatch {
  /**
   * Hazard: a put's `inline` may view a memtable slab that is recycled (overwritten) right after
   * applyBehind returns (engine.ts commitFlush, slabpool.ts): only key and hash are read later.
   */
  readonly ops: readonly KeyOp[];
  /** Per issued op: its row (put), or which removes were issued (del: REMOVED_ROW | REMOVED_HASH). */
  readonly effects: (Buffer | number)[];
  /** latin1 key -> the key and its encoded row (null = row removed); built on demand. */
  rows: PendingRows | undefined;
  /** latin1 hash -> key (null = removed); built with `rows`. */
  hashes: Map<string, Buffer | null> | undefined;
  /** Holds every row of the batch; reused for a later batch once this one committed. */
  rowsBuf: Buffer | undefined;
  committed: boolean;
}

const REMOVED_ROW = 1;
const REMOVED_HASH = 2;

/** Adds op `i`'s recorded effect to the batch's (materialized) maps. */
function addEffect(b: PendingBatch, i: number): void {
  const op = b.ops[i]!;
  const eff = b.effects[i]!;
  const rows = b.rows!;
  const hashes = b.hashes!;
  if (typeof eff !== 'number') {
    rows.set(op.key.toString('latin1'), { key: op.key, row: eff });
    hashes.set(op.hash.toString('latin1'), op.key);
    return;
  }
  if (eff & REMOVED_ROW) rows.set(op.key.toString('latin1'), { key: op.key, row: null });
  if (eff & REMOVED_HASH) hashes.set(op.hash.toString('latin1'), null);
}

type PendingRows = Map<string, { readonly key: Buffer; readonly row: Buffer | null }>;

/** The batch's maps, built from the effects issued so far on first use. */
function materialize(b: PendingBatch): { rows: PendingRows; hashes: Map<string, Buffer | null> } {
  if (b.rows === undefined || b.hashes === undefined) {
    b.rows = new Map();
    b.hashes = new Map();
    for (let i = 0; i < b.effects.length; i++) addEffect(b, i);
  }
  return { rows: b.rows, hashes: b.hashes };
}

const ROWS_ALLOC_STEP_BYTES = 1024 * 1024;

/** Largest rows buffer kept for reuse after its batch committed (bounds idle memory). */
const MAX_SPARE_ROWS_BYTES = 64 * 1024 * 1024;

/** Batches written behind before apply waits (flush backpressure, see whenPendingBelow). */
export const MAX_PENDING_BATCHES = 2;

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export class KeyIndex {
  private readonly root: RootDatabase;
  private readonly k2v: Database<Buffer, Buffer>;
  private readonly h2k: Database<Buffer, Buffer>;
  /**
   * Rows are encoded here, one after the other, inside a synchronous transaction: lmdb-js writes
   * each put at once from the caller's buffer (write.js writeInstructions in a write txn), so the
   * next row may reuse it. Saves an allocation and a copy per row on the flush path.
   */
  private rowScratch = Buffer.allocUnsafeSlow(64 * 1024 + 64);
  /** Bumped on every write batch; iterators refetch their window when it moves. */
  generation = 0;
  /**
   * False after a write batch failed: the rows may then lag the hash index, so get() must not
   * serve values from them any more (the engine is degraded anyway; reads go to the segments).
   */
  servable = true;
  /** Called once when a batch written behind fails (the engine degrades). */
  onWriteError: (err: unknown) => void = () => undefined;
  /** Written-behind batches not yet known committed, oldest first. */
  private pending: PendingBatch[] = [];
  /** Settles when the newest pending batch has (never rejects). */
  private pendingDone: Promise<void> = Promise.resolve();
  private pendingWaiters: (() => void)[] = [];
  /** A committed batch's rows buffer, kept for the next batch (at most one). */
  private spareRows: Buffer | undefined;
  /** The keys of every pending batch in byte order, built on demand for window(). */
  private pendingSorted: Buffer[] | undefined;

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
    // a synchronous clear would run before the pending writes and be undone by them
    if (this.pending.length > 0) throw new Error('KeyIndex.clear() with batches written behind');
    this.k2v.clearSync();
    this.h2k.clearSync();
    this.generation++;
  }

  apply(ops: readonly KeyOp[]): void {
    if (ops.length === 0) return;
    if (this.pending.length > 0) {
      this.applyBehind(ops); // a synchronous transaction would overtake the pending writes
      return;
    }
    this.servable = false; // until the batch is known applied
    this.root.transactionSync(() => {
      for (const op of ops) {
        if (op.kind === 'put') {
          const n = rowBytes(op.inline);
          if (n > this.rowScratch.length) this.rowScratch = Buffer.allocUnsafeSlow(n);
          encodeRowInto(this.rowScratch, op.hash, op.valueLen, op.inline);
          this.k2v.put(op.key, this.rowScratch.subarray(0, n));
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
   * Applies `ops` with lmdb's asynchronous writes (the B-tree work runs on lmdb's write thread;
   * this thread only encodes). Their effect is visible to every read of this class at once,
   * through the pending overlay, and stays so after the commit. A failed commit leaves the
   * overlay in place, clears `servable` and calls onWriteError.
   */
  applyBehind(ops: readonly KeyOp[]): void {
    if (ops.length === 0) return;
    const batch: PendingBatch = {
      ops,
      effects: [],
      rows: undefined,
      hashes: undefined,
      rowsBuf: undefined,
      committed: false,
    };
    this.pending.push(batch);
    this.pendingSorted = undefined;
    // Every row of the batch in one buffer (one allocation per row was a GC cost at 1 KiB
    // values), reused from a committed batch when large enough (a fresh one costs a page fault
    // per 4 KiB: ~1/4 of this step at 1 KiB values). The batch keeps it alive and unchanged
    // until lmdb has read the rows on its write thread, at commit; no row escapes this class
    // (reads copy them out), so a committed batch's buffer has no other user.
    let bytes = 0;
    for (const op of ops) if (op.kind === 'put') bytes += rowBytes(op.inline);
    let rowsBuf = this.spareRows;
    if (rowsBuf !== undefined && rowsBuf.length >= bytes) this.spareRows = undefined;
    else {
      // A quarter more, rounded up to 1 MiB, so the next flush's (similar, slightly larger)
      // batch still fits when it reuses this buffer: pages never written cost no memory.
      rowsBuf = Buffer.allocUnsafeSlow(
        Math.ceil((bytes * 1.25) / ROWS_ALLOC_STEP_BYTES) * ROWS_ALLOC_STEP_BYTES,
      );
    }
    batch.rowsBuf = rowsBuf;
    let at = 0;
    let last: Promise<unknown> | undefined;
    for (const op of ops) {
      if (op.kind === 'put') {
        const row = rowsBuf.subarray(at, at + rowBytes(op.inline));
        at += row.length;
        encodeRowInto(row, op.hash, op.valueLen, op.inline);
        this.k2v.put(op.key, row);
        last = this.h2k.put(op.hash, op.key);
        batch.effects.push(row);
      } else {
        // Conditional removes, decided now against what the earlier writes (this batch's
        // included: the reads below materialize it as issued so far) will have left: they
        // commit first, in order. Only rows that still belong to this hash.
        let eff = 0;
        const row = this.rawRow(op.key);
        if (row && op.hash.compare(row, 0, 16, 0, 16) === 0) {
          eff |= REMOVED_ROW;
          last = this.k2v.remove(op.key);
        }
        if (this.keyForHash(op.hash)?.equals(op.key)) {
          eff |= REMOVED_HASH;
          last = this.h2k.remove(op.hash);
        }
        batch.effects.push(eff);
      }
      if (batch.rows !== undefined) addEffect(batch, batch.effects.length - 1);
    }
    this.generation++;
    if (last === undefined) {
      this.pending.pop(); // nothing to write: every remove found another owner
      this.pendingSorted = undefined;
      return;
    }
    const done = last.then(
      () => {
        batch.committed = true;
        const b = batch.rowsBuf;
        batch.rowsBuf = undefined;
        if (b && b.length <= MAX_SPARE_ROWS_BYTES && b.length > (this.spareRows?.length ?? 0))
          this.spareRows = b;
        // lmdb commits in issue order: drop committed batches from the front only
        while (this.pending[0]?.committed) this.pending.shift();
        this.pendingSorted = undefined;
        for (const w of this.pendingWaiters.splice(0)) w();
      },
      (err: unknown) => {
        // the overlay stays: it is what the hash index describes; LMDB lags for good
        this.servable = false;
        this.onWriteError(err);
        for (const w of this.pendingWaiters.splice(0)) w();
      },
    );
    this.pendingDone = done;
  }

  /** Batches written behind and not yet committed. */
  get pendingBatches(): number {
    return this.pending.length;
  }

  /** Resolves once fewer than `n` batches are pending (or a write failed). */
  async whenPendingBelow(n: number): Promise<void> {
    while (this.pending.length >= n && this.servable) {
      await new Promise<void>((resolve) => this.pendingWaiters.push(resolve));
    }
  }

  /** Resolves once every batch written behind so far has committed or failed. */
  settled(): Promise<void> {
    return this.pendingDone;
  }

  /** The newest pending row of `key`: a row, null (removed), or undefined (not pending). */
  private pendingRow(key: Buffer): Buffer | null | undefined {
    if (this.pending.length === 0) return undefined;
    const ks = key.toString('latin1');
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const r = materialize(this.pending[i]!).rows.get(ks);
      if (r !== undefined) return r.row;
    }
    return undefined;
  }

  /** The row of `key` as the writes issued so far leave it (a private buffer or a pending row). */
  private rawRow(key: Buffer): Buffer | undefined {
    const p = this.pendingRow(key);
    if (p !== undefined) return p ?? undefined;
    return this.k2v.get(key);
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
    const p = this.pendingRow(key);
    if (p === null) return undefined;
    const v = p ?? this.k2v.getBinaryFast(key);
    if (!v || v.length !== 21 + valueLen || (v[16]! & FLAG_INLINE) === 0) return undefined;
    if (v.readUInt32LE(17) !== valueLen || hash.compare(v, 0, 16, 0, 16) !== 0) return undefined;
    return Buffer.from(v.subarray(21));
  }

  get(key: Buffer): KeyRow | undefined {
    const v = this.rawRow(key);
    return v ? decodeRow(v) : undefined;
  }

  keyForHash(hash: Buffer): Buffer | undefined {
    if (this.pending.length > 0) {
      const hs = hash.toString('latin1');
      for (let i = this.pending.length - 1; i >= 0; i--) {
        const k = materialize(this.pending[i]!).hashes.get(hs);
        if (k !== undefined) return k === null ? undefined : Buffer.from(k);
      }
    }
    const k = this.h2k.get(hash);
    return k ? Buffer.from(k) : undefined;
  }

  /**
   * Up to `limit` raw rows (encodeRowInto layout: the first 16 bytes are the hash, the value length
   * is a u32 at 17, the inline value starts at 21; decode with rowView) with key > after (or >= from), below `end` (exclusive). */
  window(
    from: Buffer | undefined,
    after: Buffer | undefined,
    end: Buffer | undefined,
    limit: number,
  ): { key: Buffer; raw: Buffer }[] {
    if (this.pending.length > 0) return this.mergedWindow(from, after, end, limit);
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

  /**
   * window() while batches are pending: committed rows merged with the pending ones (the newest
   * pending op of a key wins; a removed key is skipped). Pending rows are copied out: lmdb still
   * has to read them.
   */
  private mergedWindow(
    from: Buffer | undefined,
    after: Buffer | undefined,
    end: Buffer | undefined,
    limit: number,
  ): { key: Buffer; raw: Buffer }[] {
    const out: { key: Buffer; raw: Buffer }[] = [];
    const pks = this.sortedPendingKeys();
    let pi = after ? lowerBound(pks, after, false) : from ? lowerBound(pks, from, true) : 0;
    const start = after ?? from;
    const opts: { start?: Buffer; end?: Buffer } = {};
    if (start) opts.start = start;
    if (end) opts.end = end;
    const it = this.k2v.getRange(opts)[Symbol.iterator]();
    const nextCommitted = (): { key: Buffer; value: Buffer } | undefined => {
      for (;;) {
        const r = it.next();
        if (r.done) return undefined;
        const key = asBuffer(r.value.key);
        if (after && Buffer.compare(key, after) <= 0) continue;
        return { key, value: r.value.value };
      }
    };
    let c = nextCommitted();
    try {
      while (out.length < limit) {
        let pk = pi < pks.length ? pks[pi] : undefined;
        if (pk && end && Buffer.compare(pk, end) >= 0) pk = undefined;
        if (!c && !pk) break;
        const order = c && pk ? Buffer.compare(c.key, pk) : c ? -1 : 1;
        let key: Buffer;
        let raw: Buffer | undefined;
        if (order <= 0) {
          key = c!.key;
          raw = c!.value;
          c = nextCommitted();
        } else key = pk!;
        if (order >= 0) {
          const p = this.pendingRow(pk!);
          raw = p === null || p === undefined ? undefined : Buffer.from(p);
          pi++;
        }
        if (raw && raw.length >= 21) out.push({ key, raw });
      }
    } finally {
      it.return?.();
    }
    return out;
  }

  private sortedPendingKeys(): Buffer[] {
    if (!this.pendingSorted) {
      const all = new Map<string, Buffer>();
      for (const b of this.pending) for (const [ks, r] of materialize(b).rows) all.set(ks, r.key);
      this.pendingSorted = [...all.values()].sort(Buffer.compare);
    }
    return this.pendingSorted;
  }

  /** Committed rows only (batches written behind count once committed: await settled()). */
  count(): number {
    return this.k2v.getCount();
  }

  async close(): Promise<void> {
    await this.pendingDone;
    this.spareRows = undefined;
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
