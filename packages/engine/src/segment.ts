// Invariant: a segment file is never unlinked while a read holds a pin on it (hazard 5.1-7,
// TOCTOU): doom() only marks it, and the last unpin performs the deletion. Dead marks appended to
// a segment's `.meta` are fdatasync'ed before their promise resolves, and appends issued in the
// same tick for the same segment share one write + one fdatasync.

import assert from 'node:assert/strict';
import { readSync } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { unlinkIfExists } from './fsutil.ts';
import { encodeTombstoneBatch } from './meta.ts';
import { readExact } from './segfile.ts';
import { SlabCache } from './slabcache.ts';

export interface SegmentInfo {
  readonly id: number;
  fileBytes: number;
  metaBytes: number;
  /** Footer entries (each hash once). */
  entryCount: number;
  /** Live (indexed, not superseded) items and their record bytes. */
  liveCount: number;
  liveBytes: number;
  /** Tombstone records still listed in the footer (they shield older versions). */
  tombstones: number;
  refs: number;
  doomed: boolean;
}

interface PendingMarks {
  hashes: Buffer[];
  waiters: { resolve: () => void; reject: (e: Error) => void }[];
}

export class SegmentStore {
  readonly dir: string;
  readonly shards: number;
  private readonly maxOpen: number;
  private readonly logger: Logger;
  readonly segments = new Map<number, SegmentInfo>();
  /** Doomed segments still pinned by readers (their files go when the last one unpins). */
  private readonly doomedPinned = new Map<number, SegmentInfo>();
  private readonly handles = new Map<number, Promise<FileHandle>>();
  /**
   * Handles of `handles` whose open has finished, for synchronous reads. Hazard: an entry is
   * removed in the same synchronous step that schedules its close, so readSync never uses a
   * descriptor that is closing (or, worse, already reused for another file).
   */
  private readonly ready = new Map<number, FileHandle>();
  private pendingMarks = new Map<number, PendingMarks>();
  private marksScheduled = false;
  private readonly inflightMarks = new Set<Promise<void>>();
  private readonly onError: (err: unknown) => void;
  /** Slabs of recently flushed segments (slabcache.ts); a doomed segment's slab goes at once. */
  readonly slabs: SlabCache;

  constructor(
    dir: string,
    shards: number,
    maxOpen: number,
    logger: Logger,
    onError: (err: unknown) => void,
    readCacheBytes = 0,
  ) {
    this.slabs = new SlabCache(readCacheBytes);
    this.dir = dir;
    this.shards = shards;
    this.maxOpen = maxOpen;
    this.logger = logger;
    this.onError = onError;
  }

  shardDir(id: number): string {
    return join(this.dir, 'segments', String(id % this.shards).padStart(4, '0'));
  }
  segPath(id: number): string {
    return join(this.shardDir(id), `${String(id).padStart(10, '0')}.seg`);
  }
  metaPath(id: number): string {
    return join(this.shardDir(id), `${String(id).padStart(10, '0')}.meta`);
  }

  async ensureDirs(): Promise<void> {
    for (let s = 0; s < this.shards; s++) {
      await mkdir(join(this.dir, 'segments', String(s).padStart(4, '0')), { recursive: true });
    }
  }

  /** Registers a segment that nothing is indexed in yet; the caller counts its live items. */
  register(id: number, fileBytes: number, metaBytes: number, entryCount: number): SegmentInfo {
    const info: SegmentInfo = {
      id,
      fileBytes,
      metaBytes,
      entryCount,
      liveCount: 0,
      liveBytes: 0,
      tombstones: 0,
      refs: 0,
      doomed: false,
    };
    this.segments.set(id, info);
    return info;
  }

  get(id: number): SegmentInfo | undefined {
    return this.segments.get(id);
  }

  /** Ids of registered segments, ascending. */
  ids(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }

  diskBytes(): number {
    let n = 0;
    for (const s of this.segments.values()) n += s.fileBytes + s.metaBytes;
    return n;
  }

  /** Reads [pos, pos+len) of a segment under a pin, into `into` (exactly len bytes) if given. */
  async read(id: number, pos: number, len: number, into?: Buffer): Promise<Buffer> {
    const info = this.segments.get(id);
    if (!info) throw Object.assign(new Error(`segment ${id} is gone`), { code: 'ESEGGONE' });
    info.refs++;
    try {
      const fh = await this.handle(id);
      return await readExact(fh, pos, len, into);
    } finally {
      info.refs--;
      if (info.doomed && info.refs === 0) {
        this.doomedPinned.delete(id);
        void this.deleteFiles(id);
      }
    }
  }

  /**
   * Reads [pos, pos+len) with a synchronous pread when the segment's file is already open;
   * undefined when it is not (the caller falls back to read()). No pin is needed: nothing else
   * runs until it returns. Reads into `into` (exactly len bytes) if given.
   */
  readSync(id: number, pos: number, len: number, into?: Buffer): Buffer | undefined {
    const fh = this.ready.get(id);
    if (!fh || !this.segments.has(id)) return undefined;
    assert(into === undefined || into.length === len, 'read target is exactly the record');
    const out = into ?? Buffer.allocUnsafe(len);
    let off = 0;
    while (off < len) {
      const n = readSync(fh.fd, out, off, len - off, pos + off);
      if (n === 0) throw new Error(`short read at ${pos + off} (wanted ${len - off} more bytes)`);
      off += n;
    }
    return out;
  }

  /** Marks a segment for deletion; files go when the last reader unpins. */
  async doom(id: number): Promise<void> {
    const info = this.segments.get(id);
    if (!info) return;
    this.segments.delete(id);
    this.slabs.drop(id);
    info.doomed = true;
    if (info.refs === 0) await this.deleteFiles(id);
    else this.doomedPinned.set(id, info);
  }

  /** Appends dead marks to a segment's `.meta`; resolves after fdatasync. */
  appendDeadMarks(id: number, hashes: readonly Buffer[]): Promise<void> {
    if (hashes.length === 0 || !this.segments.has(id)) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      let p = this.pendingMarks.get(id);
      if (!p) {
        p = { hashes: [], waiters: [] };
        this.pendingMarks.set(id, p);
      }
      p.hashes.push(...hashes);
      p.waiters.push({ resolve, reject });
      if (!this.marksScheduled) {
        this.marksScheduled = true;
        queueMicrotask(() => void this.writeMarks());
      }
    });
    this.inflightMarks.add(p);
    const done = (): void => {
      this.inflightMarks.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Resolves once every dead-mark append issued so far is durable; rejects if one failed. A
   * delete that finds nothing in the index awaits this: the key may have just been evicted, and
   * until its dead mark is on disk a crash would bring the evicted version back.
   */
  async marksIssuedDurable(): Promise<void> {
    await Promise.all([...this.inflightMarks]);
  }

  /** Waits for the dead-mark appends issued so far (not for later ones). */
  async settleMarksIssued(): Promise<void> {
    await Promise.allSettled([...this.inflightMarks]);
  }

  /** Waits until no dead-mark append is in flight. */
  async settleMarks(): Promise<void> {
    while (this.inflightMarks.size > 0) await Promise.allSettled([...this.inflightMarks]);
  }

  async closeHandles(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    this.ready.clear();
    for (const p of all) {
      const fh = await p.catch(() => undefined);
      await fh?.close();
    }
  }

  private async writeMarks(): Promise<void> {
    const batch = this.pendingMarks;
    this.pendingMarks = new Map();
    this.marksScheduled = false;
    await Promise.all(
      [...batch].map(async ([id, p]) => {
        try {
          const info = this.segments.get(id);
          if (info) {
            const buf = encodeTombstoneBatch(p.hashes);
            const fh = await open(this.metaPath(id), 'a');
            try {
              await fh.write(buf, 0, buf.length);
              await fh.datasync();
            } finally {
              await fh.close();
            }
            info.metaBytes += buf.length;
          }
          for (const w of p.waiters) w.resolve();
        } catch (err) {
          for (const w of p.waiters) w.reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
  }

  private handle(id: number): Promise<FileHandle> {
    let h = this.handles.get(id);
    if (h) {
      // LRU: re-insert as most recent
      this.handles.delete(id);
      this.handles.set(id, h);
      return h;
    }
    const opening = open(this.segPath(id), 'r');
    h = opening;
    opening.then(
      (fh) => {
        if (this.handles.get(id) === opening) this.ready.set(id, fh);
      },
      () => {
        if (this.handles.get(id) === opening) this.handles.delete(id);
      },
    );
    this.handles.set(id, h);
    if (this.handles.size > this.maxOpen) this.evictHandle();
    return h;
  }

  private evictHandle(): void {
    for (const [id, p] of this.handles) {
      if (this.handles.size <= this.maxOpen) break;
      const info = this.segments.get(id) ?? this.doomedPinned.get(id);
      if (info && info.refs > 0) continue; // never close a handle under an in-flight read
      this.handles.delete(id);
      this.ready.delete(id);
      void p.then((fh) => fh.close()).catch(() => undefined);
    }
  }

  private async deleteFiles(id: number): Promise<void> {
    try {
      const h = this.handles.get(id);
      this.handles.delete(id);
      this.ready.delete(id);
      if (h) await (await h.catch(() => undefined))?.close();
      await unlinkIfExists(this.segPath(id));
      await unlinkIfExists(this.metaPath(id));
      this.logger.debug({ segment: id }, 'segment files deleted');
    } catch (err) {
      this.onError(err);
    }
  }
}
