// Invariant: a segment file is never unlinked while a read holds a pin on it (hazard 5.1-7,
// TOCTOU): doom() only marks it, and the last unpin performs the deletion. Dead marks appended to
// a segment's `.meta` are fdatasync'ed before their promise resolves, and appends issued in the
// same tick for the same segment share one write + one fdatasync.

import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { unlinkIfExists } from './fsutil.ts';
import { encodeTombstoneBatch } from './meta.ts';
import { readExact } from './segfile.ts';

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
  private pendingMarks = new Map<number, PendingMarks>();
  private marksScheduled = false;
  private readonly inflightMarks = new Set<Promise<void>>();
  private readonly onError: (err: unknown) => void;

  constructor(dir: string, shards: number, maxOpen: number, logger: Logger, onError: (err: unknown) => void) {
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

  register(info: SegmentInfo): void {
    this.segments.set(info.id, info);
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

  /** Reads [pos, pos+len) of a segment under a pin. */
  async read(id: number, pos: number, len: number): Promise<Buffer> {
    const info = this.segments.get(id);
    if (!info) throw Object.assign(new Error(`segment ${id} is gone`), { code: 'ESEGGONE' });
    info.refs++;
    try {
      const fh = await this.handle(id);
      return await readExact(fh, pos, len);
    } finally {
      info.refs--;
      if (info.doomed && info.refs === 0) {
        this.doomedPinned.delete(id);
        void this.deleteFiles(id);
      }
    }
  }

  /** Marks a segment for deletion; files go when the last reader unpins. */
  async doom(id: number): Promise<void> {
    const info = this.segments.get(id);
    if (!info) return;
    this.segments.delete(id);
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
    h = open(this.segPath(id), 'r');
    h.catch(() => this.handles.delete(id));
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
      void p.then((fh) => fh.close()).catch(() => undefined);
    }
  }

  private async deleteFiles(id: number): Promise<void> {
    try {
      const h = this.handles.get(id);
      this.handles.delete(id);
      if (h) await (await h.catch(() => undefined))?.close();
      await unlinkIfExists(this.segPath(id));
      await unlinkIfExists(this.metaPath(id));
      this.logger.debug({ segment: id }, 'segment files deleted');
    } catch (err) {
      this.onError(err);
    }
  }
}
