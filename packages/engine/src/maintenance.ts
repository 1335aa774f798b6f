// Invariants of background maintenance:
// * Eviction (onFull='evict' only) runs SIEVE down to exactly maxBytes, synchronously in the
//   write (or flush) that went over it, in bounded batches (the rest in the background, yielding
//   between batches); only flushed items are victims. No hysteresis: evicting below the budget
//   only wastes capacity (the Go design's 0.93 amortised an asynchronous worker's wake-ups).
//   Evicted versions are dead-marked in their segment so a restart does not resurrect them.
// * Reclamation never touches a segment inside the cooling window (the newest coolingSegments +
//   maxInflightMemtables ids). Neither mode drops a live item to reclaim space (only SIEVE
//   chooses victims): durable mode rewrites one segment at a time, cache mode merges several
//   sparse segments into one and drops fully dead ones; live records are relocated with
//   compare-and-swap on (segment, offset, seq), keeping their SIEVE node.
// * Leapfrog rule (durable mode): a tombstone record is dropped by a rewrite only when the
//   segment is the tail (oldest) segment; otherwise it is copied, so it keeps shadowing any older
//   version. Cache mode drops tombstones (see drainPass).
// * Bloom rebuild never creates a false negative: the old filter records additions made while
//   the new one is filled, and they are replayed before the swap.
// * The key index rebuild derives LMDB from the segments' footers and the hash index only.

import assert from 'node:assert';
import { open, readFile, rename } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BloomFilter } from './bloom.ts';
import { pushTo } from './collections.ts';
import type { EngineInternals } from './engine.ts';
import { syncDir, writeAll, writeFileAtomic } from './fsutil.ts';
import { NO_NODE } from './hashindex.ts';
import type { KeyOp } from './keyindex.ts';
import { decodeMeta, encodeFooter, type MetaContents } from './meta.ts';
import { Progress } from './progress.ts';
import { decodeHeader, payloadCrcOk, RECORD_HEADER_BYTES } from './record.ts';
import { encodeSegHeader, SEG_HEADER_BYTES, type SegEntry } from './segfile.ts';
import type { SegmentInfo } from './segment.ts';

const BLOOM_REBUILD_DELETION_FRACTION = 0.1;
const BLOOM_REBUILD_MIN_POSITIVES = 2000;
const BLOOM_REBUILD_FP_FACTOR = 5;
const BLOOM_RECORDING_LIMIT = 1 << 20;
const REBUILD_BATCH = 4096;
const INLINE_GAP_BYTES = 64 * 1024;
const INLINE_RUN_BYTES = 4 * 1024 * 1024;
/**
 * Queued victims are issued (one LMDB transaction, one .meta append per segment) at the next
 * event-loop turn or once this many are queued, whichever comes first.
 */
const VICTIM_QUEUE_ITEMS = 1024;
/** Cache mode copies a segment forward only when at least this fraction of it is dead. */
const MERGE_MIN_WASTE = 0.25;

export class Maintenance {
  private readonly e: EngineInternals;
  private evicting: Promise<void> | undefined;
  private merging: Promise<void> | undefined;
  /** Victims whose LMDB rows and dead marks are queued (evictBatch, issueVictims). */
  private victimHashes: Buffer[] = [];
  private victimMarks = new Map<number, Buffer[]>();
  private victimsScheduled = false;
  private reclaiming: Promise<void> | undefined;
  private bloomRebuild: Promise<void> | undefined;
  private stopped = false;

  constructor(engine: EngineInternals) {
    this.e = engine;
  }

  /** Starts eviction in the background when over maxBytes (cache/evict mode). */
  maybeEvict(): void {
    if (this.evicting || !this.mustEvict()) return;
    const run = this.evictLoop().finally(() => {
      this.evicting = undefined;
    });
    this.evicting = run;
    this.e.track(run);
  }

  /** Starts a reclamation pass (drain or rewrite) in the background. */
  schedule(): void {
    if (this.stopped || this.reclaiming || this.e.isDegraded()) return;
    const run = this.reclaim()
      .catch((err: unknown) => this.e.fail(err))
      .finally(() => {
        this.reclaiming = undefined;
      });
    this.reclaiming = run;
    this.e.track(run);
  }

  maybeRebuildBloom(): void {
    if (this.stopped || this.bloomRebuild) return;
    const c = this.e.counters;
    const tooManyDeletions =
      c.bloomDeletions > this.e.cfg.bloomExpectedItems * BLOOM_REBUILD_DELETION_FRACTION;
    const tooManyGhosts =
      c.bloomPositives > BLOOM_REBUILD_MIN_POSITIVES &&
      c.bloomGhosts / c.bloomPositives > BLOOM_REBUILD_FP_FACTOR * this.e.cfg.bloomFalsePositiveRate;
    const outgrown = this.e.index.size > this.e.bloom.capacityItems;
    if (!tooManyDeletions && !tooManyGhosts && !outgrown) return;
    const run = this.rebuildBloom().finally(() => {
      this.bloomRebuild = undefined;
    });
    this.bloomRebuild = run;
    this.e.track(run);
  }

  /** Eviction, bloom check and one reclamation pass, awaited. */
  async runAll(): Promise<void> {
    this.maybeEvict();
    await this.evicting;
    await Promise.all(this.issueVictims());
    this.maybeRebuildBloom();
    await this.bloomRebuild;
    if (this.reclaiming) await this.reclaiming;
    this.schedule();
    await this.reclaiming;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.issueVictims();
    await Promise.allSettled([this.evicting, this.reclaiming, this.bloomRebuild, this.merging]);
  }

  // ------------------------------------------------------------------ eviction

  /**
   * Synchronous SIEVE eviction down to maxBytes, for the writer that just went over it (and for
   * a flush that made unflushed bytes evictable). Called inside the caller's atomic section, so
   * no put ever observes (or adds to) a store above its budget while flushed items are left to
   * evict: an exact SIEVE keeps exactly its capacity, and a store that ran over it between
   * background batches held more than the budget (up to several times it under a burst of
   * puts) and then evicted the overshoot all at once. At most evictionBatchItems victims here;
   * the rest (a value much larger than the items it displaces) goes to the background loop.
   */
  evictNow(): void {
    if (!this.mustEvict()) return;
    this.evictBatch();
    this.maybeEvict();
  }

  private mustEvict(): boolean {
    const { cfg } = this.e;
    if (this.stopped || cfg.onFull !== 'evict' || cfg.maxBytes === 0) return false;
    return this.e.liveBytes > cfg.maxBytes && !this.e.isDegraded() && !this.e.isClosed();
  }

  /**
   * One batch of SIEVE victims (up to evictionBatchItems) while liveBytes > maxBytes; only
   * flushed items are victims. Synchronous: they leave the index and the accounting now; their
   * LMDB rows and dead marks are queued (issueVictims) so that a put that evicts one item does
   * not pay an LMDB transaction and a .meta fdatasync of its own. Until then a victim's LMDB row
   * is invisible anyway (reads, listings and keys() check the hash index first).
   */
  private evictBatch(): number {
    const { cfg, index, store, counters } = this.e;
    let victims = 0;
    while (victims < cfg.evictionBatchItems && this.e.liveBytes > cfg.maxBytes) {
      const n = index.nextVictim();
      if (n === NO_NODE) break;
      const hash = index.hashOf(n);
      const seg = index.seg(n);
      const len = index.len(n);
      const info = store.get(seg);
      if (info) {
        info.liveCount--;
        info.liveBytes -= len;
      }
      index.remove(n);
      victims++;
      counters.evictions++;
      counters.bloomDeletions++;
      pushTo(this.victimMarks, seg, hash);
      this.victimHashes.push(hash);
      // a version superseded by an unflushed write was already subtracted at put time
      if (!this.e.overlayHas(hash.toString('latin1'))) {
        this.e.liveBytes -= len;
        this.e.items--;
      }
    }
    if (this.victimHashes.length >= VICTIM_QUEUE_ITEMS) this.issueVictims();
    else if (this.victimHashes.length > 0 && !this.victimsScheduled) {
      this.victimsScheduled = true;
      setImmediate(() => {
        this.victimsScheduled = false;
        this.issueVictims();
      });
    }
    return victims;
  }

  /**
   * Applies the queued victims' LMDB deletes and issues their dead marks (tracked; a failure
   * degrades the engine); returns the mark promises. Synchronous. Called once the queue is full,
   * on the next event-loop turn, and before anything that relies on the marks being issued: a
   * cache-mode delete and a delete that finds nothing (engine-bugs.md #5), reclamation, close.
   */
  victimsQueued(): boolean {
    return this.victimHashes.length > 0;
  }

  issueVictims(): Promise<void>[] {
    if (this.victimHashes.length === 0 || this.e.isClosed()) return [];
    const { index, keyIndex, store } = this.e;
    const hashes = this.victimHashes;
    const marks = this.victimMarks;
    this.victimHashes = [];
    this.victimMarks = new Map();
    try {
      const ops: KeyOp[] = [];
      for (const hash of hashes) {
        // Hazard: the key may be back since (unflushed, or flushed: the row is its own again);
        // a 'del' op matches rows by key and hash, so it would delete the new row.
        if (this.e.overlayHas(hash.toString('latin1')) || index.find(hash) !== NO_NODE) continue;
        const key = keyIndex.keyForHash(hash);
        if (key) ops.push({ kind: 'del', key, hash });
      }
      keyIndex.apply(ops);
    } catch (err) {
      // called from a put's atomic section and from a timer: never throw, degrade instead
      this.e.fail(err);
    }
    return [...marks].map(([seg, segHashes]) => {
      const p = store.appendDeadMarks(seg, segHashes);
      this.e.track(p.catch((err: unknown) => this.e.fail(err)));
      return p;
    });
  }

  private async evictLoop(): Promise<void> {
    try {
      while (this.mustEvict()) {
        const victims = this.evictBatch();
        if (victims === 0) break; // everything left is unflushed
        await Promise.all(this.issueVictims());
        await yieldToLoop();
      }
    } catch (err) {
      this.e.fail(err);
    }
    this.maybeRebuildBloom();
  }

  // ------------------------------------------------------------------ bloom

  private async rebuildBloom(): Promise<void> {
    const { index, cfg, counters } = this.e;
    const old = this.e.bloom;
    const next = new BloomFilter(
      Math.max(cfg.bloomExpectedItems, index.size * 2),
      cfg.bloomFalsePositiveRate,
    );
    // Same tick: start recording, snapshot nodes and unflushed hashes.
    old.startRecording(BLOOM_RECORDING_LIMIT);
    const nodes = index.nodeIds();
    for (const h of this.e.memtableHashes()) next.add(h);
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (index.isLive(n)) next.add(index.hashOf(n));
      if (i % REBUILD_BATCH === REBUILD_BATCH - 1) await yieldToLoop();
    }
    const recorded = old.stopRecording();
    if (!recorded || this.e.bloom !== old) {
      this.e.logger.warn('bloom rebuild aborted (too many concurrent additions)');
      return;
    }
    for (const h of recorded) next.add(h);
    this.e.bloom = next;
    counters.bloomRebuilds++;
    counters.bloomDeletions = 0;
    counters.bloomGhosts = 0;
    counters.bloomPositives = 0;
    this.e.logger.info({ items: index.size }, 'bloom filter rebuilt');
  }

  // ------------------------------------------------------------------ reclamation

  private cooledIds(): number[] {
    const boundary = this.e.newestSegmentId() - this.e.cfg.coolingSegments - this.e.cfg.maxInflightMemtables;
    return this.e.store.ids().filter((id) => id <= boundary);
  }

  private async readMeta(id: number): Promise<MetaContents> {
    const buf = await readFile(this.e.store.metaPath(id));
    const meta = decodeMeta(buf, this.e.cfg.maxKeyBytes);
    if (!meta) throw new Error(`corrupt .meta for segment ${id}`);
    return meta;
  }

  private async reclaim(): Promise<void> {
    // dead marks from earlier flushes (and evictions) must be durable before a segment holding
    // the newer version (or its tombstone) can go away
    this.issueVictims();
    await this.e.store.settleMarksIssued();
    if (this.e.cfg.durability === 'cache') await this.drainPass();
    else await this.rewritePass();
  }

  private async drainPass(): Promise<void> {
    const { cfg, store } = this.e;
    const waste = (): number => store.diskBytes() - this.e.liveBytes;
    const over = cfg.maxBytes > 0 && waste() > cfg.maxBytes / 2;
    // Reclaim by copying the live items of the sparsest segments forward, several segments into
    // one, instead of draining them: a drained segment's live items are exactly the ones SIEVE
    // kept longest (read-hot items outlive their segment's neighbours), so draining evicted the
    // hottest items behind SIEVE's back (up to 0.04 of hit ratio on a Zipf trace:
    // bench/sieve-fidelity.ts). The copy costs at most the live bytes of segments that are at
    // least MERGE_MIN_WASTE dead. Candidates are re-read before each merge: a merge takes a few
    // fsyncs, and segments that died meanwhile are dropped first (free and cheap).
    const live = (s: SegmentInfo): number => s.liveBytes / Math.max(1, s.fileBytes - SEG_HEADER_BYTES);
    const tried = new Set<number>(); // a merge that found nothing to gain is not retried
    for (;;) {
      // Dropping whole segments (tombstone records included) is safe here, unlike in a rewrite
      // that must respect the tail rule: cache mode's superseded versions were dead-marked in
      // their own segments when the newer version committed, and reclaim() waited for those
      // marks. Fully dead segments are free to drop in any case.
      const cooled = this.cooledIds();
      for (const id of cooled) {
        const info = store.get(id);
        if (info && info.liveCount === 0 && !this.stopped) await this.drainSegment(id);
      }
      if (!over || waste() < cfg.maxBytes / 4) return;
      if (this.stopped || this.e.isClosed() || this.e.isDegraded()) return;
      const candidates = this.cooledIds()
        .map((id) => store.get(id))
        .filter(
          (s): s is SegmentInfo =>
            s !== undefined && s.liveCount > 0 && !tried.has(s.id) && 1 - live(s) >= MERGE_MIN_WASTE,
        )
        .sort((a, b) => live(a) - live(b));
      if (candidates.length === 0) return;
      const group: number[] = [];
      let bytes = SEG_HEADER_BYTES;
      for (const s of candidates) {
        if (group.length > 0 && bytes + s.liveBytes > cfg.memtableBytes) break;
        group.push(s.id);
        tried.add(s.id);
        bytes += s.liveBytes;
      }
      await this.mergeSegments(group);
      await yieldToLoop();
    }
  }

  /**
   * Cache mode: copies the live records of `ids` into one new segment (their SIEVE nodes keep
   * their place and visited bit: reclaiming space evicts nothing); tombstones are not copied
   * (see drainPass). While it runs, mergeSettled() is pending: a delete must not be acknowledged
   * while a copy of its key may sit in the new segment without its dead mark.
   */
  async mergeSegments(ids: readonly number[]): Promise<void> {
    await this.copying(this.copyForward(ids, true));
  }

  /** Marks `run` (a copy forward) as in flight for mergeSettled() until it ends. */
  private async copying(run: Promise<void>): Promise<void> {
    this.merging = run;
    try {
      await run;
    } finally {
      if (this.merging === run) this.merging = undefined;
    }
  }

  /**
   * Resolves once no copy forward (cache-mode merge or durable-mode rewrite) is in flight. A copy
   * takes a key's record, then learns at its compare-and-swap that the key was deleted or evicted
   * meanwhile and dead-marks the copy; until that mark is durable a crash would bring the key
   * back from the copy, so a delete that found nothing waits for this (hazard engine-bugs.md #5,
   * the copy's variant). A durable delete of a present key writes a tombstone whose higher seq
   * masks the copy anyway; an evicted key (durable mode with onFull 'evict') has no tombstone.
   */
  async mergeSettled(): Promise<void> {
    while (this.merging) await this.merging.catch(() => undefined);
  }

  /** Cache mode: drop a whole segment; its live items become misses. */
  async drainSegment(id: number): Promise<void> {
    const { index, store, keyIndex, counters } = this.e;
    const meta = await this.readMeta(id);
    if (!store.get(id)) return;
    const ops: KeyOp[] = [];
    const dropped: Buffer[] = [];
    for (const en of meta.footer.entries) {
      if (en.tombstone) continue;
      const n = index.find(en.hash);
      if (n === NO_NODE || index.seg(n) !== id || index.off(n) !== en.pos) continue;
      index.remove(n);
      dropped.push(en.hash);
      counters.bloomDeletions++;
      if (!this.e.overlayHas(en.hash.toString('latin1'))) {
        this.e.liveBytes -= en.len;
        this.e.items--;
        ops.push({ kind: 'del', key: en.key, hash: en.hash });
      }
    }
    keyIndex.apply(ops);
    // Hazard (engine-bugs.md #5): the dropped items left the index now, but the files go only
    // later (after pinned reads; the unlink is not synced). A delete of a dropped key finds
    // nothing and waits only for the dead marks issued so far, so issue them in this same step
    // and make them durable before the segment is doomed; otherwise a crash in between would
    // bring a key back whose delete was acknowledged.
    await store.appendDeadMarks(id, dropped);
    await store.doom(id);
    counters.drains++;
    this.e.logger.info({ segment: id, dropped: ops.length }, 'segment drained');
  }

  private async rewritePass(): Promise<void> {
    const { cfg, store } = this.e;
    for (const id of this.cooledIds()) {
      if (this.stopped || this.e.isClosed() || this.e.isDegraded()) return;
      const s = store.get(id);
      if (!s) continue;
      const payload = s.fileBytes - SEG_HEADER_BYTES;
      const waste = payload <= 0 ? 1 : 1 - s.liveBytes / payload;
      if (waste >= cfg.compactionWasteRatio) {
        await this.rewriteSegment(id);
        await yieldToLoop();
      }
    }
  }

  /** Durable mode: copy the live records (and shielding tombstones) of one segment. */
  async rewriteSegment(id: number): Promise<void> {
    await this.copying(this.copyForward([id], false));
  }

  /**
   * Copies the live records of `ids` into one new segment and relocates them with
   * compare-and-swap on (segment, offset, seq); records overwritten, deleted or evicted while
   * copying are dead-marked in the copy. Tombstones: dropped when `dropTombstones` (cache mode)
   * or in the tail segment, otherwise copied (leapfrog rule).
   */
  private async copyForward(ids: readonly number[], dropTombstones: boolean): Promise<void> {
    const { index, store, counters } = this.e;
    const keep: { src: number; en: SegEntry }[] = [];
    const sources: number[] = [];
    let entryCount = 0;
    let dissolved = 0;
    for (const id of ids) {
      const meta = await this.readMeta(id);
      if (!store.get(id)) continue;
      sources.push(id);
      entryCount += meta.footer.entries.length;
      const isTail = store.ids()[0] === id;
      for (const en of meta.footer.entries) {
        const hs = en.hash.toString('latin1');
        if (meta.dead.has(hs)) continue;
        if (en.tombstone) {
          // Leapfrog rule: only the tail segment may let a tombstone go.
          if (isTail || dropTombstones) dissolved++;
          else keep.push({ src: id, en });
          continue;
        }
        const n = index.find(en.hash);
        if (n !== NO_NODE && index.seg(n) === id && index.off(n) === en.pos && index.seq(n) === en.seq)
          keep.push({ src: id, en });
      }
    }
    if (sources.length === 0) return;
    if (keep.length === 0) {
      for (const id of sources) await store.doom(id);
      counters.compactions++;
      counters.bloomDeletions += dissolved;
      this.e.logger.info({ segment: sources.length === 1 ? sources[0] : sources }, 'dead segment dropped');
      return;
    }
    if (sources.length === 1 && keep.length === entryCount) return; // nothing to gain
    const newId = this.e.allocSegmentId();
    const segPath = store.segPath(newId);
    const tmp = `${segPath}.tmp`;
    const moved: { src: number; from: SegEntry; to: SegEntry }[] = [];
    const fh = await open(tmp, 'w');
    try {
      const header = Buffer.alloc(SEG_HEADER_BYTES);
      encodeSegHeader(header, newId);
      await writeAll(fh, header, 0);
      let pos = SEG_HEADER_BYTES;
      for (const { src, en } of keep) {
        const rec = await store.read(src, en.pos, en.len);
        assert(rec.length === en.len);
        await writeAll(fh, rec, pos);
        moved.push({ src, from: en, to: { ...en, pos } });
        pos += en.len;
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, segPath);
    await syncDir(store.shardDir(newId));
    const entries = moved.map((m) => m.to);
    const footer = encodeFooter(newId, entries);
    await writeFileAtomic(store.metaPath(newId), store.shardDir(newId), footer);
    // ---- atomic section: register + compare-and-swap relocation
    const fileBytes = entries.reduce((a, b) => a + b.len, SEG_HEADER_BYTES);
    const info = store.register(newId, fileBytes, footer.length, entries.length);
    const stale: Buffer[] = [];
    for (const { src, from, to } of moved) {
      if (from.tombstone) {
        info.tombstones++;
        continue;
      }
      const n = index.find(from.hash);
      if (n !== NO_NODE && index.seg(n) === src && index.off(n) === from.pos && index.seq(n) === from.seq) {
        // in place: the SIEVE node keeps its list position and visited bit
        index.upsert(from.hash, newId, to.pos, to.len, to.seq);
        info.liveCount++;
        info.liveBytes += to.len;
      } else {
        stale.push(from.hash); // overwritten, deleted or evicted while copying
      }
    }
    // ---- end of atomic section
    await store.appendDeadMarks(newId, stale);
    for (const id of sources) await store.doom(id);
    counters.compactions++;
    counters.bloomDeletions += dissolved;
    this.e.logger.info(
      {
        from: sources.length === 1 ? sources[0] : sources,
        to: newId,
        kept: keep.length - stale.length,
        dissolved,
      },
      'segment rewritten',
    );
  }

  // ------------------------------------------------------------------ key index

  /** Rebuilds LMDB from footers + hash index (crash, missing or corrupt database). */
  async rebuildKeyIndex(): Promise<void> {
    const { index, store, keyIndex, cfg, logger } = this.e;
    keyIndex.clear();
    let rows = 0;
    const ids = store.ids();
    const progress = new Progress(logger, {
      task: 'key index rebuild',
      unit: 'segments',
      totalItems: ids.length,
      totalBytes: ids.reduce((sum, id) => sum + (store.get(id)?.fileBytes ?? 0), 0),
      intervalMs: cfg.progressLogIntervalMs,
    });
    for (const id of ids) {
      const meta = await this.readMeta(id);
      const live = meta.footer.entries.filter((en) => {
        if (en.tombstone) return false;
        const n = index.find(en.hash);
        return n !== NO_NODE && index.seg(n) === id && index.off(n) === en.pos && index.seq(n) === en.seq;
      });
      const inline = await this.readInlineValues(
        id,
        live.filter((en) => en.valueLen <= cfg.maxInlineValueBytes),
      );
      let ops: KeyOp[] = [];
      for (const en of live) {
        let value: Buffer | undefined;
        if (en.valueLen <= cfg.maxInlineValueBytes) {
          value = inline.get(en.pos);
          if (!value) {
            // damaged record: never list (or serve) its bytes
            const n = index.find(en.hash);
            if (n !== NO_NODE)
              this.e.dropCorrupt(n, en.hash, `record in segment ${id} at ${en.pos} unreadable`);
            continue;
          }
        }
        ops.push({ kind: 'put', key: en.key, hash: en.hash, valueLen: en.valueLen, inline: value });
        if (ops.length >= REBUILD_BATCH) {
          keyIndex.apply(ops);
          rows += ops.length;
          ops = [];
        }
      }
      keyIndex.apply(ops);
      rows += ops.length;
      progress.advance(1, store.get(id)?.fileBytes ?? 0);
    }
    progress.finish({ rows });
    logger.info({ rows }, 'key index rebuilt from segments');
  }

  /**
   * Reads and verifies small records of one segment, coalescing neighbours (gaps up to 64 KiB,
   * runs up to 4 MiB) into one read. Returns pos -> value for records that verified.
   */
  private async readInlineValues(id: number, entries: readonly SegEntry[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    const sorted = [...entries].sort((a, b) => a.pos - b.pos);
    let i = 0;
    while (i < sorted.length) {
      const first = sorted[i]!;
      let j = i + 1;
      let end = first.pos + first.len;
      while (j < sorted.length) {
        const nx = sorted[j]!;
        if (nx.pos - end > INLINE_GAP_BYTES || nx.pos + nx.len - first.pos > INLINE_RUN_BYTES) break;
        end = Math.max(end, nx.pos + nx.len);
        j++;
      }
      let buf: Buffer | undefined;
      try {
        buf = await this.e.store.read(id, first.pos, end - first.pos);
      } catch {
        buf = undefined; // unreadable run: its records count as damaged
      }
      for (let k = i; k < j && buf; k++) {
        const en = sorted[k]!;
        const at = en.pos - first.pos;
        const h = decodeHeader(buf, at, this.e.cfg.maxValueBytes);
        if (!h || h.seq !== en.seq || h.keyLen !== en.key.length || h.valueLen !== en.valueLen) continue;
        const keyStart = at + RECORD_HEADER_BYTES;
        if (!buf.subarray(keyStart, keyStart + h.keyLen).equals(en.key)) continue;
        const value = buf.subarray(keyStart + h.keyLen, keyStart + h.keyLen + h.valueLen);
        if (!payloadCrcOk(h, value)) continue;
        out.set(en.pos, Buffer.from(value));
      }
      i = j;
    }
    return out;
  }
}
