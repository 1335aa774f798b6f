// Invariants of the engine as a whole:
// * Visibility: the newest version of a key is found by looking at the active memtable, then the
//   sealed-but-uncommitted memtables newest-first, then the hash index of flushed items. A flush
//   commit moves a memtable's entries into the hash index AND the LMDB key index in one
//   synchronous step, in memtable (= segment id) order (hazard 5.2-3), so no reader ever sees a
//   gap or an older version.
// * Durability (durable mode): put/delete resolve only after their record is fdatasync'ed in the
//   WAL file of the memtable they were appended to; the record and the memtable entry are created
//   in the same synchronous step, so a record can never land in another memtable's WAL (the
//   "spillover" hazard 5.1-4). Any WAL error rejects the operation and degrades the engine
//   (hazard 5.2-1).
// * Accounting: liveBytes/items describe exactly the newest live versions (overwrites and deletes
//   subtract the old version: hazard 5.2-10).
// * Single event loop: no locks, but every `await` is a preemption point. Code between awaits is
//   written as atomic check-and-act sections; segment files are pinned while read.

import assert from 'node:assert';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BloomFilter } from './bloom.ts';
import { pushTo } from './collections.ts';
import { deriveShards, type EngineConfig, type EngineOptions, resolveConfig } from './config.ts';
import { crc32Of, offloadable } from './crcoffload.ts';
import {
  EngineClosedError,
  EngineDegradedError,
  EngineError,
  EngineFullError,
  InvalidKeyError,
  InvalidValueError,
  ValueTooLargeError,
  WriteFailedError,
} from './errors.ts';
import { isNotFound, syncDir, syncFile, writeFileReplacing, writeFileSynced } from './fsutil.ts';
import { type HashIndex, NO_NODE } from './hashindex.ts';
import { HASH_ALGORITHM, hashKey, initKeyHash } from './keyhash.ts';
import { FLAG_INLINE, KeyIndex, type KeyOp, type KeyRow, MAX_PENDING_BATCHES } from './keyindex.ts';
import { type KeyEntry, type ListingRequest, type ListingSource, listKeys, listKeysSync } from './listing.ts';
import { acquireDirLock, type DirLock } from './lock.ts';
import { Maintenance } from './maintenance.ts';
import { FORMAT_VERSION, type Marker, readMarker, writeMarker } from './marker.ts';
import { type MemEntry, Memtable } from './memtable.ts';
import { encodeFooter } from './meta.ts';
import { Progress } from './progress.ts';
import { decodeHeader, payloadCrcOk, RECORD_HEADER_BYTES, type RecordHeader, recordBytes } from './record.ts';
import { recover, walDir, walPath } from './recovery.ts';
import { SEG_HEADER_BYTES } from './segfile.ts';
import { type SegmentInfo, SegmentStore } from './segment.ts';
import { SlabPool } from './slabpool.ts';
import { SpareSlab } from './spareslab.ts';
import { WalFile, type WalStats } from './wal.ts';

/** Record bytes encoded per event-loop turn before writers yield (mustYield). */
const ENCODE_BYTES_PER_TURN = 2 * 1024 * 1024;
/** Cache mode: a filling memtable's segment file is written every this many bytes. */
const SEG_WRITE_STEP_BYTES = 4 * 1024 * 1024;

export interface KeysOptions {
  /** Only keys starting with these bytes. */
  prefix?: Uint8Array | string;
  /** Only keys strictly greater than this one. */
  startAfter?: Uint8Array | string;
  /** Stop after this many entries. */
  limit?: number;
  /** Include the value when its size is <= maxInlineValueBytes. */
  withValues?: boolean;
}

export type { KeyEntry } from './listing.ts';

export interface EngineStats {
  items: number;
  liveBytes: number;
  diskBytes: number;
  segments: number;
  memtables: number;
  unflushedBytes: number;
  hits: number;
  misses: number;
  bloomGhosts: number;
  bloomDeletions: number;
  bloomRebuilds: number;
  evictions: number;
  compactions: number;
  drains: number;
  flushes: number;
  degraded: boolean;
  degradedReason: string | undefined;
  walSyncs: number;
  walBytes: number;
  corruptReads: number;
  indexMemoryBytes: number;
  /** Memory held by the read cache of recently flushed slabs, and reads it served. */
  readCacheBytes: number;
  readCacheHits: number;
  /** Memtables that got a recycled (warm) slab instead of fresh memory, and idle slabs kept. */
  slabsReused: number;
  idleSlabs: number;
}

type Located =
  | { readonly where: 'mem'; readonly mt: Memtable; readonly e: MemEntry }
  | { readonly where: 'disk'; readonly node: number };

/** Internal surface shared with maintenance.ts. */
export interface EngineInternals {
  readonly cfg: EngineConfig;
  readonly logger: Logger;
  readonly store: SegmentStore;
  readonly index: HashIndex;
  readonly keyIndex: KeyIndex;
  readonly counters: Counters;
  liveBytes: number;
  items: number;
  bloom: BloomFilter;
  newestSegmentId(): number;
  allocSegmentId(): number;
  overlayHas(hashStr: string): boolean;
  fail(err: unknown): void;
  dropCorrupt(n: number, hash: Buffer, msg: string): void;
  track(p: Promise<unknown>): void;
  settleBackground(): Promise<void>;
  isClosed(): boolean;
  isDegraded(): boolean;
  memtableHashes(): Buffer[];
}

export interface Counters {
  hits: number;
  misses: number;
  bloomGhosts: number;
  bloomDeletions: number;
  bloomRebuilds: number;
  evictions: number;
  compactions: number;
  drains: number;
  flushes: number;
  corruptReads: number;
  bloomPositives: number;
}

export class BlobEngine implements EngineInternals {
  readonly dir: string;
  readonly cfg: EngineConfig;
  readonly logger: Logger;
  readonly store: SegmentStore;
  readonly index: HashIndex;
  readonly keyIndex: KeyIndex;
  bloom: BloomFilter;
  readonly counters: Counters = {
    hits: 0,
    misses: 0,
    bloomGhosts: 0,
    bloomDeletions: 0,
    bloomRebuilds: 0,
    evictions: 0,
    compactions: 0,
    drains: 0,
    flushes: 0,
    corruptReads: 0,
    bloomPositives: 0,
  };
  liveBytes: number;
  items: number;
  private seq: number;
  private nextSegId: number;
  private active: Memtable;
  /** Sealed memtables, oldest first, until their flush commits. */
  private readonly flushing: Memtable[] = [];
  private flushChain: Promise<void> = Promise.resolve();
  private flushWaiters: (() => void)[] = [];
  private readonly background = new Set<Promise<unknown>>();
  private readonly walStats: WalStats = { syncs: 0, bytes: 0 };
  /** Cache mode: bytes written to segment files while memtables fill (never synced there). */
  private readonly segWriteStats: WalStats = { syncs: 0, bytes: 0 };
  private bgError: unknown;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly maintenance: Maintenance;
  private readonly marker: Marker;
  private segmentsSinceMaintenance = 0;
  private admitTail: Promise<void> = Promise.resolve();
  /** Resolves when the newest sealed WAL file is entirely durable (see wal.ts). */
  private walBarrier: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Cache mode: segments flushed without fdatasync (synced at close). */
  private readonly unsyncedSegments = new Set<number>();
  /**
   * Cache-mode deletes whose dead mark waits for its segment's sync (not yet in the store's
   * in-flight marks): a delete that finds nothing awaits these too (engine-bugs.md #5).
   */
  private readonly marksBehindSync = new Set<Promise<void>>();
  /** Record bytes encoded since the last setImmediate turn (see mustYield). */
  private encodedThisTurn = 0;
  private lock: DirLock | undefined;
  private queuedWriters = 0;
  /** Set by inMemory(): whether the bytes it returned alias engine memory (else a private copy). */
  private inMemoryShared = true;
  /** The next memtable's slab, prefaulted while the active one fills (write path). */
  private readonly spare: SpareSlab;
  /** Flushed slabs the read cache let go, recycled for new memtables (slabpool.ts). */
  private readonly slabPool: SlabPool;

  private constructor(
    dir: string,
    cfg: EngineConfig,
    store: SegmentStore,
    index: HashIndex,
    keyIndex: KeyIndex,
    marker: Marker,
    state: { maxSeq: number; maxSegId: number; liveBytes: number },
  ) {
    this.dir = dir;
    this.cfg = cfg;
    this.logger = cfg.logger;
    this.store = store;
    this.index = index;
    this.keyIndex = keyIndex;
    this.marker = marker;
    this.seq = Math.max(state.maxSeq, marker.lastSeq);
    this.nextSegId = state.maxSegId + 1;
    this.liveBytes = state.liveBytes;
    this.items = index.size;
    this.bloom = new BloomFilter(
      Math.max(cfg.bloomExpectedItems, index.size * 2),
      cfg.bloomFalsePositiveRate,
    );
    // Millions of items take a while: one clock read per 64 Ki items.
    const bloomFill = new Progress(this.logger, {
      task: 'bloom filter rebuild',
      unit: 'items',
      totalItems: index.size,
      intervalMs: cfg.progressLogIntervalMs,
      checkEvery: 65_536,
    });
    index.forEach((n) => {
      this.bloom.add(index.hashOf(n));
      bloomFill.advance();
    });
    bloomFill.finish();
    keyIndex.onWriteError = (err) => this.fail(err); // a batch written behind failed (keyindex.ts)
    this.spare = new SpareSlab(cfg.memtableBytes, cfg.prefaultMemtables);
    this.slabPool = new SlabPool(cfg.memtableBytes, cfg.maxIdleSlabs);
    store.slabs.onRelease = (slab) => this.slabPool.release(slab);
    this.active = this.newMemtable(cfg.memtableBytes);
    this.maintenance = new Maintenance(this);
    if (cfg.flushIntervalMs > 0) {
      this.flushTimer = setInterval(() => this.flushIfOld(), Math.max(10, cfg.flushIntervalMs / 4));
      this.flushTimer.unref();
    }
  }

  /** Opens (creating if needed) an engine in `dir`. Crash-only: recovery is the normal open. */
  static async open(dir: string, options?: EngineOptions): Promise<BlobEngine> {
    const cfg = resolveConfig(options);
    await initKeyHash();
    await mkdir(dir, { recursive: true });
    const lock = await acquireDirLock(dir);
    try {
      const engine = await BlobEngine.openLocked(dir, cfg);
      engine.lock = lock;
      return engine;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async openLocked(dir: string, cfg: EngineConfig): Promise<BlobEngine> {
    let marker = await readMarker(dir);
    if (!marker) {
      marker = {
        formatVersion: FORMAT_VERSION,
        hashAlgorithm: HASH_ALGORITHM,
        shards: deriveShards(cfg),
        createdAt: new Date().toISOString(),
        lastSegmentId: 0,
        lastSeq: 0,
      };
      await writeMarker(dir, marker);
    } else if (cfg.shards !== 0 && cfg.shards !== marker.shards) {
      cfg.logger.warn(
        { requested: cfg.shards, persisted: marker.shards },
        'shards option ignored: the directory keeps the shard count it was created with',
      );
    }
    await mkdir(walDir(dir), { recursive: true });
    let failure: unknown;
    let owner: BlobEngine | undefined;
    // Background file deletions report here: before construction the error is kept, after it
    // degrades the engine.
    const store = new SegmentStore(
      dir,
      marker.shards,
      cfg.maxOpenSegmentFiles,
      cfg.logger,
      (err) => {
        if (owner) owner.fail(err);
        else failure ??= err;
      },
      cfg.readCacheBytes,
    );
    const rec = await recover(dir, cfg, store, marker.lastSegmentId, cfg.logger);
    const keyIndexPath = join(dir, 'keyindex');
    const fp = fingerprint(store, rec.index.size);
    const { index: keyIndex, fresh } = await KeyIndex.open(
      keyIndexPath,
      fp,
      cfg.logger,
      cfg.progressLogIntervalMs,
    );
    const engine = new BlobEngine(dir, cfg, store, rec.index, keyIndex, marker, rec);
    owner = engine;
    if (failure) engine.fail(failure);
    try {
      if (fresh) await engine.maintenance.rebuildKeyIndex();
      // Persist the id/seq high-water marks now, so a crash cannot reuse them (hazard 5.2-7).
      await engine.saveMarker();
    } catch (err) {
      await keyIndex.close();
      await store.closeHandles();
      throw err;
    }
    return engine;
  }

  // ---------------------------------------------------------------- public API

  async put(key: Uint8Array | string, value: Uint8Array): Promise<void> {
    this.checkWritable();
    const k = this.keyBuf(key);
    if (!(value instanceof Uint8Array)) throw new InvalidValueError('value must be a Uint8Array');
    if (value.length > this.cfg.maxValueBytes)
      throw new ValueTooLargeError(value.length, this.cfg.maxValueBytes);
    const len = recordBytes(k.length, value.length);
    const hash = hashKey(k);
    const hs = hash.toString('latin1');
    if (this.queuedWriters > 0 || this.mustWaitForRotation(len) || this.mustYield(len))
      await this.admitInOrder(len);
    // ---- atomic section: no await until the record is appended
    this.checkWritable();
    const cur = this.locate(hs, hash);
    const prevLen = cur ? this.lenOf(cur) : 0;
    if (
      this.cfg.maxBytes > 0 &&
      this.cfg.onFull === 'reject' &&
      this.liveBytes - prevLen + len > this.cfg.maxBytes
    ) {
      throw new EngineFullError(this.liveBytes - prevLen, len, this.cfg.maxBytes);
    }
    const mt = this.memtableFor(len);
    const seq = ++this.seq;
    this.bloom.add(hash); // bloom before index: a concurrent reader never gets a false negative
    const e = mt.append(seq, k, hash, hs, value);
    this.countEncoded(len);
    this.liveBytes += len - prevLen;
    if (!cur) this.items++;
    const wal = this.cfg.durability === 'durable' ? this.walFor(mt) : undefined;
    if (!wal) this.writeSegAhead(mt);
    if (mt.slab.length > this.cfg.memtableBytes) {
      this.rotate(); // oversize value: its own segment
    } else if (mt.used > mt.slab.length >>> 4) {
      // A stream (1/16 of a memtable written): warm the next slab. Early enough for the
      // /dev/zero read to finish while this memtable fills (at 1/4, 64 KiB bursts found it ready
      // in 2-3 of 4 rotations; at 1/16 in 2-4), late enough that a few writes after a flush do
      // not pin a spare slab.
      if (this.slabPool.idleSlabs === 0) this.spare.prepare();
    }
    this.maintenance.evictNow(); // SIEVE keeps the budget exactly (maintenance.ts)
    // ---- end of atomic section
    if (wal) {
      try {
        await wal.syncThrough(e.pos + e.len);
      } catch (err) {
        this.fail(err);
        throw new WriteFailedError(err);
      }
    }
  }

  get(key: Uint8Array | string): Promise<Buffer | undefined> {
    // A disk read already lands in a private buffer: hand it out without a second copy.
    return this.lookup(key, (bytes, shared) => (shared ? copyOut(bytes) : bytes));
  }

  /**
   * get() into memory the caller supplies, for callers that recycle their buffers (a fresh
   * buffer per large read costs page faults and, when many are held at once, major GCs that
   * the copy itself does not). Resolves to a view of `dst` holding exactly the value, or to a
   * fresh buffer when it does not fit: a disk read needs room for the whole record (header and
   * key before the value: valueBytes + RECORD_HEADER_BYTES + key length), a memory hit for the
   * value. Hazard: `dst` is written until the promise settles (disk reads land there before
   * their CRC check); the caller must not reuse it before, nor while it holds the result. A `dst`
   * in a SharedArrayBuffer gets the CRC check of a large value on a worker thread (crcoffload.ts):
   * pass only buffers the caller reuses (a fixed pool), never a fresh one per read.
   */
  getInto(key: Uint8Array | string, dst: Buffer): Promise<Buffer | undefined> {
    return this.lookup(
      key,
      (bytes, shared) => {
        if (!shared) return bytes; // a disk read (into dst when it fit) or a private inline copy
        if (bytes.length > dst.length) return copyOut(bytes);
        bytes.copy(dst);
        return dst.subarray(0, bytes.length);
      },
      dst,
    );
  }

  /**
   * Zero-copy view of the value, valid only inside `fn` (until the promise it returns settles).
   * Hazard: a view of engine memory aliases a memtable slab (or the read cache's copy of one),
   * and slabs are recycled for new memtables (slabpool.ts): the slab is pinned while fn runs,
   * so awaiting inside fn is safe; a view kept after fn settled may be overwritten.
   */
  view<R>(key: Uint8Array | string, fn: (bytes: Buffer) => R | Promise<R>): Promise<R | undefined> {
    return this.lookup(key, (bytes, shared) => (shared ? this.slabPool.pinWhile(bytes, fn) : fn(bytes)));
  }

  /**
   * Read path; `shared` tells whether `bytes` alias memory the engine keeps (a memtable slab).
   * Hazard: shared bytes belong to a slab that is recycled once flushed and dropped by the read
   * cache (slabpool.ts): `fn` must copy them before it first awaits, or pin them (view()). fn
   * is always called in the same synchronous step that found the bytes.
   * Values in memory (memtables, the read cache, inline LMDB rows) are answered in this
   * synchronous part (no async function frame, no await per get); the rest goes to lookupSlow.
   */
  private lookup<R>(
    key: Uint8Array | string,
    fn: (bytes: Buffer, shared: boolean) => R | Promise<R>,
    dst?: Buffer,
  ): Promise<R | undefined> {
    let view: Buffer;
    let hash: Buffer;
    try {
      this.checkOpen();
      // Hazard: `view` may alias the caller's key buffer. It is used only in this synchronous
      // part; the asynchronous segment read works on a private copy, so a caller reusing its
      // key buffer meanwhile cannot make a record look damaged (and get it dropped).
      view = this.keyBuf(key, false);
      hash = hashKey(view);
      // No unflushed memtable (a read-mostly store): skip the overlay and its string key.
      const ov = this.hasUnflushed() ? this.overlay(hash.toString('latin1')) : undefined;
      if (ov) {
        if (ov.e.tombstone || !ov.e.key.equals(view)) {
          this.counters.misses++;
          return NOTHING;
        }
        this.counters.hits++;
        // Hazard: an unflushed entry has no SIEVE node yet; without this, a key read while in
        // the memtable would enter SIEVE cold at flush and be the first victim despite being hot.
        ov.e.readBeforeFlush = true;
        return Promise.resolve(fn(ov.mt.value(ov.e), true));
      }
      if (!this.bloom.test(hash)) {
        this.counters.misses++;
        return NOTHING;
      }
      this.counters.bloomPositives++;
      const n = this.index.find(hash);
      if (n !== NO_NODE) {
        this.index.touch(n);
        const bytes = this.inMemory(n, view, hash);
        if (bytes) {
          this.counters.hits++;
          return Promise.resolve(fn(bytes, this.inMemoryShared));
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.lookupSlow(Buffer.from(view), hash, fn, dst);
  }

  /**
   * The value of index node `n` if memory holds it: the read cache of flushed slabs, or the
   * key's inline LMDB row. Both are engine-owned (callers copy or view them synchronously).
   */
  private inMemory(n: number, k: Buffer, hash: Buffer): Buffer | undefined {
    this.inMemoryShared = true;
    // Recently flushed: the segment's bytes are still in memory as written (slabcache.ts).
    const slab = this.store.slabs.get(this.index.seg(n));
    if (slab) {
      const off = this.index.off(n);
      const end = off + this.index.len(n);
      const keyEnd = off + RECORD_HEADER_BYTES + k.length;
      if (keyEnd <= end && end <= slab.length && k.compare(slab, off + RECORD_HEADER_BYTES, keyEnd) === 0) {
        this.store.slabs.hits++;
        return slab.subarray(keyEnd, end);
      }
    }
    // Small values: the LMDB row of the key holds the same bytes inline (written in the same
    // synchronous step as this index entry, verified on the way in: copied from the memtable
    // or CRC-checked by the rebuild scan), so serve it with a synchronous mmap read instead
    // of a segment read through the thread pool.
    const valueLen = this.index.len(n) - RECORD_HEADER_BYTES - k.length;
    if (valueLen >= 0 && valueLen <= this.cfg.maxInlineValueBytes) {
      this.inMemoryShared = false; // inlineValue returns a private copy
      return this.keyIndex.inlineValue(k, hash, valueLen);
    }
    return undefined;
  }

  /** The read path through segment files; `k` is a private copy of the key. */
  private async lookupSlow<R>(
    k: Buffer,
    hash: Buffer,
    fn: (bytes: Buffer, shared: boolean) => R | Promise<R>,
    dst?: Buffer,
  ): Promise<R | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const n = this.index.find(hash);
      if (n === NO_NODE) break;
      this.index.touch(n);
      const bytes = this.inMemory(n, k, hash); // relocated into memory since the last attempt
      if (bytes) {
        this.counters.hits++;
        return await fn(bytes, this.inMemoryShared);
      }
      const value = await this.readNode(n, k, hash, dst);
      if (value === 'moved') continue;
      if (value === undefined) break;
      this.counters.hits++;
      return await fn(value, false);
    }
    // A write that landed while the disk read was in flight is newer than what the index had.
    const late = this.overlay(hash.toString('latin1'));
    if (late && !late.e.tombstone && late.e.key.equals(k)) {
      this.counters.hits++;
      return await fn(late.mt.value(late.e), true);
    }
    this.counters.bloomGhosts++;
    this.counters.misses++;
    this.maintenance.maybeRebuildBloom();
    return undefined;
  }

  /** Deletes a key; resolves true if it existed. Durable mode: the tombstone is fdatasync'ed. */
  async delete(key: Uint8Array | string): Promise<boolean> {
    this.checkWritable();
    const k = this.keyBuf(key);
    const hash = hashKey(k);
    const hs = hash.toString('latin1');
    const len = recordBytes(k.length, 0);
    if (this.queuedWriters > 0 || this.mustWaitForRotation(len) || this.mustYield(len))
      await this.admitInOrder(len);
    // ---- atomic section
    this.checkWritable();
    const cur = this.locate(hs, hash);
    if (!cur || (cur.where === 'mem' && !cur.e.key.equals(k))) {
      // "Not there" may rest on a tombstone that is not durable yet (an earlier delete still in
      // its group commit): acknowledge only once that tombstone is, or a crash could bring the
      // value back after this delete was acknowledged.
      // Likewise "not there" may rest on an eviction (or drain) that removed the flushed version
      // from the index but whose dead mark is still being appended: wait for the marks issued up
      // to now (engine-bugs.md #5; cheap when none is in flight).
      const ov = this.overlay(hs);
      try {
        if (ov?.mt.wal) await ov.mt.wal.syncThrough(ov.e.pos + ov.e.len);
        await Promise.all([...this.marksBehindSync]);
        this.maintenance.issueVictims(); // an eviction's queued marks (maintenance.ts)
        await this.store.marksIssuedDurable();
        await this.maintenance.mergeSettled(); // a merge or rewrite may hold a copy (maintenance.ts)
      } catch (err) {
        this.fail(err);
        throw new WriteFailedError(err);
      }
      return false;
    }
    if (cur.where === 'disk' && this.cfg.verifyKeys) {
      const row = this.keyIndex.get(k);
      if (!row?.hash.equals(hash)) return false; // a colliding foreign key: never delete it
    }
    // Tombstone record in the memtable (hazard 5.2-2: deleting an unflushed key must mask it).
    const mt = this.memtableFor(len);
    const seq = ++this.seq;
    const e = mt.append(seq, k, hash, hs, undefined);
    this.countEncoded(len);
    this.liveBytes -= this.lenOf(cur);
    this.items--;
    this.counters.bloomDeletions++;
    const wal = this.cfg.durability === 'durable' ? this.walFor(mt) : undefined;
    let eager: Promise<void> | undefined;
    if (!wal) {
      this.writeSegAhead(mt);
      // Cache mode has no WAL: make the delete of flushed data durable now by dead-marking the
      // flushed version in its segment (hazard 5.2-5), instead of waiting for the next flush.
      const n = this.index.find(hash);
      if (n !== NO_NODE) eager = this.removeFlushed(n, hash, k);
    }
    // ---- end of atomic section
    try {
      if (wal) await wal.syncThrough(e.pos + e.len);
      if (eager) await eager;
      if (!wal) {
        // Cache mode: a crash loses this tombstone with its memtable, so whatever it shadows must
        // be dead on disk first: an evicted older version's queued or in-flight dead mark, and a
        // merge's copy of the key (maintenance.ts).
        this.maintenance.issueVictims();
        await this.store.marksIssuedDurable();
        await this.maintenance.mergeSettled();
      }
    } catch (err) {
      this.fail(err);
      throw new WriteFailedError(err);
    }
    return true;
  }

  /**
   * Ordered iteration by key bytes; sees every put and delete acknowledged before each step,
   * including unflushed ones; O(page) per page; never touches SIEVE (see listing.ts).
   */
  keys(opts: KeysOptions = {}): AsyncIterableIterator<KeyEntry> {
    return listKeys(this.listingSource, this.listingRequest(opts));
  }

  /**
   * keys() as a synchronous iterator, for bulk scans (several times faster per key: no promise
   * per step). Same visibility rules per step. A long scan blocks the event loop while it runs:
   * in a server, scan in bounded pages (`limit` + `startAfter`) or use keys().
   */
  keysSync(opts: KeysOptions = {}): IterableIterator<KeyEntry> {
    return listKeysSync(this.listingSource, this.listingRequest(opts));
  }

  private listingRequest(opts: KeysOptions): ListingRequest {
    this.checkOpen();
    const prefix = opts.prefix === undefined ? undefined : this.rawKey(opts.prefix, true);
    const startAfter = opts.startAfter === undefined ? undefined : this.rawKey(opts.startAfter, true);
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new EngineError('INVALID_ARGUMENT', 'limit must be >= 0');
    return { prefix, startAfter, limit, withValues: opts.withValues === true };
  }

  private readonly listingSource: ListingSource = {
    keyIndex: () => this.keyIndex,
    memtables: () => this.overlays(),
    checkOpen: () => {
      if (this.closed) throw new EngineClosedError();
    },
    resolve: (key, row, withValues) => this.resolveListed(key, row, withValues),
    rowsExact: () => {
      // The only rows that outlive their hash-index node are queued eviction victims (issue
      // them now: synchronous) and rows behind a failed LMDB batch (degraded).
      this.maintenance.issueVictims();
      return this.keyIndex.servable && !this.maintenance.victimsQueued();
    },
    resolveFlushed: (key, raw, withValues, exact) => {
      // Peek (no SIEVE touch). The raw row starts with the key's hash (find reads 16 bytes):
      // no rehash, no decoded row object on this per-key path.
      if (!exact && this.index.find(raw) === NO_NODE) return undefined;
      const out: KeyEntry = { key, size: raw.readUInt32LE(17) };
      if (withValues && (raw[16]! & FLAG_INLINE) !== 0) out.value = raw.subarray(21);
      return out;
    },
    writeGeneration: () => this.seq,
  };

  stats(): EngineStats {
    let unflushed = 0;
    let walBytes = 0;
    for (const mt of this.overlays()) {
      if (mt.isEmpty) continue;
      unflushed += mt.used;
      if (mt.wal) walBytes += mt.used;
    }
    return {
      items: this.items,
      liveBytes: this.liveBytes,
      diskBytes: this.store.diskBytes() + walBytes,
      segments: this.store.segments.size,
      memtables: this.flushing.length + (this.active.isEmpty ? 0 : 1),
      unflushedBytes: unflushed,
      hits: this.counters.hits,
      misses: this.counters.misses,
      bloomGhosts: this.counters.bloomGhosts,
      bloomDeletions: this.counters.bloomDeletions,
      bloomRebuilds: this.counters.bloomRebuilds,
      evictions: this.counters.evictions,
      compactions: this.counters.compactions,
      drains: this.counters.drains,
      flushes: this.counters.flushes,
      degraded: this.bgError !== undefined,
      degradedReason:
        this.bgError === undefined ? undefined : String((this.bgError as Error).message ?? this.bgError),
      walSyncs: this.walStats.syncs,
      walBytes: this.walStats.bytes,
      corruptReads: this.counters.corruptReads,
      indexMemoryBytes: this.index.memoryBytes,
      readCacheBytes: this.store.slabs.bytes,
      readCacheHits: this.store.slabs.hits,
      slabsReused: this.slabPool.reused,
      idleSlabs: this.slabPool.idleSlabs,
    };
  }

  /** Rotates the active memtable and waits until every sealed memtable is flushed. */
  async flush(): Promise<void> {
    this.checkOpen();
    await this.flushInternal();
    // The flushes' LMDB rows are written behind (keyindex.ts): wait for their commit too. A
    // listing right after flush() (often a long synchronous one, which never lets the commit's
    // callback run) would otherwise merge every row with the pending overlay (bench/memory.ts
    // lists 1 M keys right after flush(): one loaded-machine run ~1.0 vs ~1.6 M keys/s).
    await this.keyIndex.settled();
    if (this.bgError) throw new EngineDegradedError(this.bgError);
  }

  /** Runs eviction, bloom rebuild and space reclamation now and waits for them. */
  async runMaintenance(): Promise<void> {
    this.checkOpen();
    await this.maintenance.runAll();
  }

  get degraded(): boolean {
    return this.bgError !== undefined;
  }

  /** Flushes (both modes), waits for background work, closes files and LMDB. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeInternal();
    return this.closing;
  }

  // ---------------------------------------------------------------- internals shared with maintenance

  newestSegmentId(): number {
    return this.nextSegId - 1;
  }
  allocSegmentId(): number {
    return this.nextSegId++;
  }
  overlayHas(hs: string): boolean {
    return this.overlay(hs) !== undefined;
  }
  isClosed(): boolean {
    return this.closed;
  }
  isDegraded(): boolean {
    return this.bgError !== undefined;
  }
  memtableHashes(): Buffer[] {
    const out: Buffer[] = [];
    for (const mt of this.overlays()) for (const e of mt.entries.values()) if (!e.tombstone) out.push(e.hash);
    return out;
  }

  /** Enters degraded mode: reads keep working, writes reject. */
  fail(err: unknown): void {
    if (this.bgError !== undefined) return;
    this.bgError = err ?? new Error('unknown background failure');
    this.logger.error({ err }, 'engine degraded: writes are rejected from now on');
    for (const w of this.flushWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- private

  /** flushIntervalMs: rotate an old, non-empty memtable when the flush queue has room. */
  private flushIfOld(): void {
    const mt = this.active;
    if (mt.isEmpty || this.closing || this.bgError !== undefined) return;
    if (Date.now() - mt.firstWriteMs < this.cfg.flushIntervalMs) return;
    if (this.queuedWriters > 0 || this.flushing.length >= this.cfg.maxInflightMemtables) return;
    this.rotate();
  }

  private async closeInternal(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    let err: unknown;
    try {
      if (!this.closed && !this.bgError) await this.flushInternal();
      await this.maintenance.stop();
      await this.flushChain; // puts that raced with close may have rotated once more
      await this.settleBackground();
      await this.syncCacheSegments();
    } catch (e) {
      err = e;
    }
    await this.spare.close(); // never fails: drops the spare, closes /dev/zero
    this.closed = true;
    this.store.slabs.clear();
    this.slabPool.close();
    // Degraded: unflushed memtables stay in their WAL files for the next open; release handles.
    for (const mt of this.overlays()) {
      await mt.wal?.seal(mt.used).catch(() => undefined);
      await mt.segFile?.seal(mt.used).catch(() => undefined); // a .tmp: recovery removes it
    }
    const clean = !this.bgError && this.flushing.length === 0 && this.active.isEmpty && !err;
    const fp = fingerprint(this.store, this.index.size);
    try {
      await this.saveMarker();
    } catch (e) {
      err ??= e;
    }
    await this.keyIndex.close().catch((e: unknown) => {
      err ??= e;
    });
    if (clean && !err) {
      const report = { logger: this.logger, intervalMs: this.cfg.progressLogIntervalMs };
      await KeyIndex.markClean(join(this.dir, 'keyindex'), fp, report).catch((e: unknown) => {
        err ??= e;
      });
    }
    await this.store.closeHandles().catch((e: unknown) => {
      err ??= e;
    });
    for (const w of this.flushWaiters.splice(0)) w();
    await this.lock?.release();
    if (err) throw err;
  }

  /** Cache mode, at close: makes the segments flushed without a sync durable (files + dirs). */
  private async syncCacheSegments(): Promise<void> {
    const ids = [...this.unsyncedSegments];
    this.unsyncedSegments.clear();
    const dirs = new Set<string>();
    for (const id of ids) {
      await this.syncSegmentFiles(id);
      dirs.add(this.store.shardDir(id));
    }
    for (const d of dirs) await syncDir(d);
  }

  private async syncSegmentFiles(id: number): Promise<void> {
    if (!this.store.get(id)) return; // drained meanwhile
    for (const path of [this.store.segPath(id), this.store.metaPath(id)]) {
      try {
        await syncFile(path);
      } catch (err) {
        if (!isNotFound(err)) throw err; // a drain may unlink it concurrently
      }
    }
  }

  /**
   * Before a cache-mode delete's dead mark is synced, its segment's .seg/.meta (and their
   * directory entries) must be durable: otherwise a power loss could drop the .meta with the
   * mark and recovery would rebuild it from the .seg, bringing the deleted value back.
   */
  private async syncBeforeMark(id: number): Promise<void> {
    if (!this.unsyncedSegments.delete(id)) return;
    await this.syncSegmentFiles(id);
    await syncDir(this.store.shardDir(id));
  }

  private async saveMarker(): Promise<void> {
    await writeMarker(this.dir, { ...this.marker, lastSegmentId: this.nextSegId, lastSeq: this.seq });
  }

  /**
   * Rotates, then waits for the flushes (and their dead-mark appends) queued up to now. Work
   * queued later is not waited for: under a continuous write load flush() must still finish.
   */
  private async flushInternal(): Promise<void> {
    if (!this.active.isEmpty && !this.bgError) this.rotate();
    await this.flushChain;
    await this.store.settleMarksIssued();
  }

  async settleBackground(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p)).catch(() => undefined);
  }

  private checkOpen(): void {
    if (this.closed || this.closing) throw new EngineClosedError();
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.bgError !== undefined) throw new EngineDegradedError(this.bgError);
  }

  /** A validated key; `copy` false may return a view of the caller's bytes (reads only). */
  private keyBuf(key: Uint8Array | string, copy = true): Buffer {
    const k = copy ? this.rawKey(key, false) : this.keyView(key);
    if (k.length === 0) throw new InvalidKeyError('key must not be empty');
    if (k.length > this.cfg.maxKeyBytes) {
      throw new InvalidKeyError(`key of ${k.length} bytes exceeds maxKeyBytes=${this.cfg.maxKeyBytes}`);
    }
    return k;
  }

  private rawKey(key: Uint8Array | string, allowEmpty: boolean): Buffer {
    let k: Buffer;
    if (typeof key === 'string') k = Buffer.from(key, 'utf8');
    else if (key instanceof Uint8Array)
      k = Buffer.from(key); // copy: callers may reuse buffers
    else throw new InvalidKeyError('key must be a string or a Uint8Array');
    if (!allowEmpty && k.length === 0) throw new InvalidKeyError('key must not be empty');
    return k;
  }

  private keyView(key: Uint8Array | string): Buffer {
    if (typeof key === 'string') return Buffer.from(key, 'utf8');
    if (!(key instanceof Uint8Array)) throw new InvalidKeyError('key must be a string or a Uint8Array');
    const k = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    if (k.length === 0) throw new InvalidKeyError('key must not be empty');
    return k;
  }

  private hasUnflushed(): boolean {
    return this.flushing.length > 0 || !this.active.isEmpty;
  }

  private *overlays(): Generator<Memtable> {
    yield this.active;
    for (let i = this.flushing.length - 1; i >= 0; i--) yield this.flushing[i]!;
  }

  private overlay(hs: string): { mt: Memtable; e: MemEntry } | undefined {
    let e = this.active.get(hs);
    if (e) return { mt: this.active, e };
    for (let i = this.flushing.length - 1; i >= 0; i--) {
      const mt = this.flushing[i]!;
      e = mt.get(hs);
      if (e) return { mt, e };
    }
    return undefined;
  }

  /** Newest live version of a hash, or undefined if absent/deleted. */
  private locate(hs: string, hash: Buffer): Located | undefined {
    const ov = this.overlay(hs);
    if (ov) return ov.e.tombstone ? undefined : { where: 'mem', mt: ov.mt, e: ov.e };
    const n = this.index.find(hash);
    return n === NO_NODE ? undefined : { where: 'disk', node: n };
  }

  private lenOf(l: Located): number {
    return l.where === 'mem' ? l.e.len : this.index.len(l.node);
  }

  private mustWaitForRotation(len: number): boolean {
    const needsRotation = !this.active.fits(len) || SEG_HEADER_BYTES + len > this.cfg.memtableBytes;
    return needsRotation && this.flushing.length >= this.cfg.maxInflightMemtables;
  }

  /**
   * Write backpressure, FIFO: a writer waits while the flush queue is full and it needs a
   * rotation, and every writer issued after a waiting one queues behind it, so sequence numbers
   * follow issue order (a later delete can never be overtaken by an earlier put of the same key).
   * The caller's atomic section runs in the same tick as this resolves, before the next waiter.
   */
  private async admitInOrder(len: number): Promise<void> {
    const prev = this.admitTail;
    let release!: () => void;
    this.admitTail = new Promise<void>((r) => {
      release = r;
    });
    this.queuedWriters++;
    try {
      await prev;
      if (this.mustYield(len)) await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.mustWaitForRotation(len)) {
        this.checkWritable();
        await new Promise<void>((resolve) => this.flushWaiters.push(resolve));
      }
    } finally {
      this.queuedWriters--;
      release();
    }
  }

  /**
   * A burst of puts issued in one synchronous run (many callers, large values) would otherwise
   * encode every record (copy + CRC, ~1 ms per MiB) before any I/O callback could run: durable
   * mode's first WAL write (issued from a microtask, on a file that opens asynchronously) and, in
   * both modes, the memtable flushes and the spare slab's prefault (spareslab.ts) would wait for
   * the whole burst: CPU and disk would take turns instead of overlapping. Cache puts never wait
   * for I/O, so 256 in flight chain through microtasks alone. Past ENCODE_BYTES_PER_TURN in one
   * event-loop turn, writers queue (FIFO, through admitInOrder, so sequence order stays issue
   * order) behind a setImmediate that lets the I/O callbacks run.
   */
  private mustYield(len: number): boolean {
    return this.encodedThisTurn > 0 && this.encodedThisTurn + len > ENCODE_BYTES_PER_TURN;
  }

  private countEncoded(len: number): void {
    if (this.encodedThisTurn === 0) {
      // Queued before any yield of this turn, so a yielded writer always resumes on a fresh count.
      setImmediate(() => {
        this.encodedThisTurn = 0;
      });
    }
    this.encodedThisTurn += len;
  }

  /** The memtable a record of `len` bytes goes to, rotating first when it does not fit. */
  private memtableFor(len: number): Memtable {
    const need = Memtable.capacityFor(0, 0) + len;
    if (need > this.cfg.memtableBytes) {
      // A value larger than the memtable gets a memtable (and segment) of its own.
      this.rotate(need);
      return this.active;
    }
    if (!this.active.fits(len)) this.rotate();
    return this.active;
  }

  private walFor(mt: Memtable): WalFile {
    mt.wal ??= WalFile.create(
      walPath(this.dir, mt.id),
      walDir(this.dir),
      mt.slab,
      this.walStats,
      this.walBarrier,
    );
    return mt.wal;
  }

  /**
   * Cache mode: hands the memtable's new bytes to its segment file every SEG_WRITE_STEP_BYTES, so
   * the write overlaps filling and the flush writes only the tail (it was 20-35% of a 128 MiB
   * burst of 64 KiB puts, flush included). Appended records are never rewritten, so the bytes
   * handed over are final. A write error is not lost: it fails the file, and its seal in
   * flushOne throws it.
   */
  private writeSegAhead(mt: Memtable): void {
    if (mt.used - mt.segRequested < SEG_WRITE_STEP_BYTES) return;
    mt.segRequested = mt.used;
    this.segFileFor(mt)
      .syncThrough(mt.used)
      .catch(() => undefined);
  }

  private segFileFor(mt: Memtable): WalFile {
    mt.segFile ??= WalFile.createUnsynced(`${this.store.segPath(mt.id)}.tmp`, mt.slab, this.segWriteStats);
    return mt.segFile;
  }

  /** Seals the active memtable (if it has data) and starts a new one. Synchronous. */
  private rotate(capacity = this.cfg.memtableBytes): void {
    const old = this.active;
    if (old.wal) {
      // the next WAL file writes only once this one is entirely durable (prefix order)
      const barrier = old.wal.syncThrough(old.used);
      barrier.catch(() => undefined);
      this.walBarrier = barrier;
    }
    if (!old.isEmpty) {
      old.sealed = true;
      this.flushing.push(old);
      const run = this.flushChain.then(() => this.flushOne(old));
      this.flushChain = run;
      this.track(run);
    } else if (!old.wal && !old.segFile) {
      // Never written (an oversize value rotates an empty memtable): no entry, so no view and
      // no file write of its slab exists.
      this.slabPool.release(old.slab);
    }
    this.active = this.newMemtable(capacity);
  }

  private newMemtable(capacity: number): Memtable {
    // Hazard: a slab prefaulted by a worker thread (a SharedArrayBuffer) saved main-thread page
    // faults but was not released promptly after use: the gateway's peak RSS over a 1 GiB upload
    // went from 271 to 1317 MiB. Plain allocations are accounted to V8 and collected; the spare
    // is one (spareslab.ts), prefaulted by a /dev/zero read on the thread pool.
    const bytes = Math.max(capacity, SEG_HEADER_BYTES);
    const warm = bytes === this.cfg.memtableBytes ? this.slabPool.take() : undefined;
    if (warm) return new Memtable(this.nextSegId++, warm);
    const slab = this.spare.take(bytes);
    this.slabPool.adopt(slab);
    return new Memtable(this.nextSegId++, slab);
  }

  private async flushOne(mt: Memtable): Promise<void> {
    try {
      if (this.bgError !== undefined) return; // degraded: the memtable stays readable in memory
      const shardDir = this.store.shardDir(mt.id);
      const segPath = this.store.segPath(mt.id);
      const entries = mt.footerEntries();
      const footer = encodeFooter(mt.id, entries);
      if (mt.wal) {
        // Durable mode, 3 syncs per memtable (was 5, serial) on top of the WAL's own. Each one:
        //  - meta.tmp fdatasync, while the WAL's last group syncs: the .meta must never be
        //    visible with bytes that are not on disk. It describes only the WAL's records, which
        //    are immutable once the memtable is sealed, so it can be written before the rename.
        //  - the two renames (wal -> seg, meta.tmp -> meta) are made durable by ONE fsync of the
        //    shard directory (both entries live there) plus one of the WAL directory (the old
        //    name's removal), concurrently. Nothing acknowledged depends on them: every put was
        //    acked after the WAL's fdatasync, under the WAL name. Any crash state in between is
        //    recovered: WAL present -> replayed over the segment and a stale .meta unlinked
        //    (recovery.ts recoverWal); segment without .meta -> .meta rebuilt; .tmp -> removed.
        //  - they complete before commitFlush, so dead marks, compaction and deletion of this
        //    segment (which assume its name is durable) only ever see a durable rename.
        const metaTmp = `${this.store.metaPath(mt.id)}.tmp`;
        await Promise.all([mt.wal.seal(mt.used), writeFileSynced(metaTmp, footer)]);
        await rename(mt.wal.path, segPath);
        await rename(metaTmp, this.store.metaPath(mt.id));
        await Promise.all([syncDir(shardDir), syncDir(walDir(this.dir))]);
      } else {
        // Cache mode promises nothing for unflushed data, and a crash of the process keeps
        // the page cache: no fdatasync on this path (it made cache puts slower than durable
        // ones). Order still matters: the .seg is complete under its name before the .meta
        // exists, so a .meta never describes bytes the .seg lacks after a process crash (after
        // a power loss it may: recovery ignores entries beyond the file's end and every read
        // is CRC-checked, so such a record is a miss). close() syncs these files.
        const file = this.segFileFor(mt); // mostly written already (writeSegAhead)
        await file.seal(mt.used);
        await rename(file.path, segPath);
        this.unsyncedSegments.add(mt.id);
      }
      if (!mt.wal) await writeFileReplacing(this.store.metaPath(mt.id), footer);
      // bounded: at most MAX_PENDING_BATCHES flushes' rows wait for lmdb's write thread
      await this.keyIndex.whenPendingBelow(MAX_PENDING_BATCHES);
      this.commitFlush(mt, entries, footer.length);
    } catch (err) {
      this.fail(err);
    } finally {
      for (const w of this.flushWaiters.splice(0)) w();
    }
  }

  /** Moves a flushed memtable into the hash index and LMDB in one synchronous step. */
  private commitFlush(mt: Memtable, entries: readonly MemEntry[], metaBytes: number): void {
    assert(this.flushing[0] === mt, 'flushes must commit in memtable order (hazard 5.2-3)');
    const info = this.store.register(mt.id, mt.used, metaBytes, entries.length);
    const marks = new Map<number, Buffer[]>();
    const mark = (seg: number, h: Buffer): void => pushTo(marks, seg, h);
    const ops: KeyOp[] = [];
    for (const e of entries) {
      const n = this.index.find(e.hash);
      if (n !== NO_NODE) {
        if (this.index.seq(n) > e.seq) {
          mark(mt.id, e.hash); // a newer version is already indexed: this one is dead on arrival
          continue;
        }
        const prev = this.store.get(this.index.seg(n));
        if (prev) {
          prev.liveCount--;
          prev.liveBytes -= this.index.len(n);
        }
        mark(this.index.seg(n), e.hash);
      }
      if (e.tombstone) {
        if (n !== NO_NODE) this.index.remove(n);
        info.tombstones++;
        ops.push({ kind: 'del', key: e.key, hash: e.hash });
      } else {
        const node = this.index.upsert(e.hash, mt.id, e.pos, e.len, e.seq);
        if (e.readBeforeFlush) this.index.touch(node);
        info.liveCount++;
        info.liveBytes += e.len;
        // A view of the sealed slab, copied by the row encoding (synchronously, in applyBehind
        // below). Hazard: the slab is recycled once the read cache lets it go, so nothing may
        // read this view after this step (keyindex.ts keeps the ops but not their bytes).
        const inline = e.valueLen <= this.cfg.maxInlineValueBytes ? mt.value(e) : undefined;
        ops.push({ kind: 'put', key: e.key, hash: e.hash, valueLen: e.valueLen, inline });
      }
    }
    // Written behind: lmdb's write thread does the B-tree work (~half of this step's main-thread
    // time at 1 KiB values); the rows are visible through KeyIndex's pending overlay right away.
    this.keyIndex.applyBehind(ops);
    this.flushing.shift();
    // The slab's last memtable use is over (its file writes completed before this commit, its
    // inline rows were copied just above): from here on only the read cache holds it, and
    // releases it to the slab pool when it drops it or does not admit it (slabpool.ts).
    this.store.slabs.add(mt.id, mt.slab.subarray(0, mt.used));
    this.counters.flushes++;
    for (const [seg, hashes] of marks) {
      if (seg === mt.id && hashes.length === 0) continue;
      this.track(this.store.appendDeadMarks(seg, hashes).catch((err: unknown) => this.fail(err)));
    }
    this.logger.debug({ segment: mt.id, entries: entries.length, bytes: mt.used }, 'memtable flushed');
    this.maintenance.evictNow(); // bytes that were unflushed (unevictable) may be victims now
    if (++this.segmentsSinceMaintenance >= this.cfg.maintenanceEverySegments) {
      this.segmentsSinceMaintenance = 0;
      this.maintenance.schedule();
    }
  }

  /** Cache-mode delete of a flushed version: unindex now, dead-mark durably. */
  private removeFlushed(n: number, hash: Buffer, key: Buffer): Promise<void> {
    const seg = this.index.seg(n);
    const info = this.store.get(seg);
    if (info) {
      info.liveCount--;
      info.liveBytes -= this.index.len(n);
    }
    this.index.remove(n);
    this.keyIndex.apply([{ kind: 'del', key, hash }]);
    if (!this.unsyncedSegments.has(seg)) return this.store.appendDeadMarks(seg, [hash]);
    const p = this.syncBeforeMark(seg).then(() => this.store.appendDeadMarks(seg, [hash]));
    this.marksBehindSync.add(p);
    const done = (): void => {
      this.marksBehindSync.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Reads and verifies a flushed record; 'moved' when it was relocated meanwhile. */
  private async readNode(
    n: number,
    key: Buffer,
    hash: Buffer,
    dst?: Buffer,
  ): Promise<Buffer | undefined | 'moved'> {
    const seg = this.index.seg(n);
    const off = this.index.off(n);
    const len = this.index.len(n);
    const seq = this.index.seq(n);
    const stillThere = (): boolean => {
      const m = this.index.find(hash);
      return (
        m !== NO_NODE && this.index.seg(m) === seg && this.index.off(m) === off && this.index.seq(m) === seq
      );
    };
    let buf: Buffer;
    try {
      // The record lands in the caller's buffer when it fits (getInto), else in a fresh one.
      const into = dst !== undefined && len <= dst.length ? dst.subarray(0, len) : undefined;
      const quick = len <= this.cfg.syncReadMaxBytes ? this.store.readSync(seg, off, len, into) : undefined;
      buf = quick ?? (await this.store.read(seg, off, len, into));
    } catch (err) {
      // TOCTOU: drain/rewrite removed or relocated the item between lookup and read
      if (!stillThere()) return this.index.find(hash) === NO_NODE ? undefined : 'moved';
      return this.dropCorrupt(n, hash, `segment ${seg} read failed at ${off}: ${(err as Error).message}`);
    }
    const h = decodeHeader(buf, 0, this.cfg.maxValueBytes);
    if (!h || RECORD_HEADER_BYTES + h.keyLen + h.valueLen !== len || h.seq !== seq) {
      if (!stillThere()) return this.index.find(hash) === NO_NODE ? undefined : 'moved';
      return this.dropCorrupt(n, hash, `bad record header in segment ${seg} at ${off}`);
    }
    const storedKey = buf.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + h.keyLen);
    if (this.cfg.verifyKeys && !storedKey.equals(key)) {
      // A genuine 128-bit collision (the record belongs to another live key) is a ghost miss;
      // a stored key that no live key matches means the key bytes were damaged.
      if (this.keyIndex.get(Buffer.from(storedKey))?.hash.equals(hash)) return undefined;
      if (!stillThere()) return 'moved';
      return this.dropCorrupt(n, hash, `stored key mismatch in segment ${seg} at ${off}`);
    }
    const value = buf.subarray(RECORD_HEADER_BYTES + h.keyLen);
    if (this.cfg.verifyValueCrc && !(await payloadVerified(h, value))) {
      if (!stillThere()) return 'moved';
      return this.dropCorrupt(n, hash, `payload CRC mismatch in segment ${seg} at ${off}`);
    }
    return value;
  }

  /**
   * A record failed its header/key-length/payload check although the index still points at it:
   * the bytes on disk are damaged. The read is a miss (never wrong bytes), the item is dropped
   * from the index, LMDB and listings, and dead-marked so a restart agrees.
   */
  dropCorrupt(n: number, hash: Buffer, msg: string): undefined {
    this.counters.corruptReads++;
    this.logger.error({ hash: hash.toString('hex') }, `corrupt record: ${msg}`);
    if (this.index.isLive(n)) {
      const key = this.keyIndex.keyForHash(hash);
      const len = this.index.len(n);
      const seg = this.index.seg(n);
      const info = this.store.get(seg);
      if (info) {
        info.liveCount--;
        info.liveBytes -= len;
      }
      this.index.remove(n);
      if (!this.overlayHas(hash.toString('latin1'))) {
        this.liveBytes -= len;
        this.items--;
        if (key) this.keyIndex.apply([{ kind: 'del', key, hash }]);
      }
      this.track(this.store.appendDeadMarks(seg, [hash]).catch((err: unknown) => this.fail(err)));
    }
    return undefined;
  }

  /** Decides what a listing shows for `key`: newest memtable entry, else the LMDB row. */
  private resolveListed(key: Buffer, row: KeyRow | undefined, withValues: boolean): KeyEntry | undefined {
    const hash = hashKey(key);
    const ov = this.overlay(hash.toString('latin1'));
    if (ov?.e.key.equals(key)) {
      if (ov.e.tombstone) return undefined;
      const out: KeyEntry = { key, size: ov.e.valueLen };
      if (withValues && ov.e.valueLen <= this.cfg.maxInlineValueBytes)
        out.value = Buffer.from(ov.mt.value(ov.e));
      return out;
    }
    if (!row) return undefined;
    // Peek (no SIEVE touch): LMDB rows are checked against the hash index.
    if (this.index.find(hash) === NO_NODE) return undefined;
    const out: KeyEntry = { key, size: row.valueLen };
    if (withValues && row.inline) out.value = row.inline;
    return out;
  }
}

const NOTHING: Promise<undefined> = Promise.resolve(undefined);

/**
 * A private copy of engine-owned bytes. Large values get an allocation of their own (not a
 * slice of Node's shared 8 KiB pool, which Buffer.from uses only for small ones anyway), which
 * measured faster than Buffer.from for 64 KiB..1 MiB values.
 */
function copyOut(bytes: Buffer): Buffer {
  if (bytes.length < 4096) return Buffer.from(bytes);
  const out = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(out);
  return out;
}

/**
 * payloadCrcOk, computed off the main thread for a large value read into shared memory (a
 * getInto caller's pooled SharedArrayBuffer: crcoffload.ts). The value is the read's own buffer,
 * which nothing else writes until the read resolves.
 */
function payloadVerified(h: RecordHeader, value: Buffer): boolean | Promise<boolean> {
  if (h.tombstone || !offloadable(value)) return payloadCrcOk(h, value);
  return crc32Of(value).then((crc) => crc === h.payloadCrc);
}

/** Identifies the segment set (and item count) the LMDB index is consistent with. */
function fingerprint(store: SegmentStore, items: number): string {
  const parts = store.ids().map((id) => {
    const s = store.get(id) as SegmentInfo;
    return `${id}:${s.fileBytes}:${s.metaBytes}`;
  });
  return JSON.stringify({ items, segments: parts.join(',') });
}
