// Invariant: a waiter of syncThrough(end) is resolved only after bytes [0, end) of the slab are
// written to the WAL file AND fdatasync'ed, and the file's directory entry was fsync'ed before
// the first acknowledgement. Writes issued in the same tick (or while a sync is in flight) share
// one write + one fdatasync (group commit). After any I/O error every pending and future waiter
// rejects: an unsynced write is never acknowledged (hazard 5.2-1).
// Cross-file order: a WAL file writes nothing until the previous WAL file is completely durable
// (`after`), so after a crash a later WAL file never holds records while an earlier one lost some
// (acknowledged or not): recovery always sees a prefix of the issued writes.

import { type FileHandle, open } from 'node:fs/promises';
import { syncDir, writeAll } from './fsutil.ts';

interface Waiter {
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface WalStats {
  syncs: number;
  bytes: number;
}

export class WalFile {
  readonly path: string;
  private readonly slab: Buffer;
  private readonly fhP: Promise<FileHandle>;
  private synced = 0;
  private target = 0;
  private waiters: Waiter[] = [];
  private pumping: Promise<void> | undefined;
  private failed: Error | undefined;
  private closed = false;
  private readonly stats: WalStats;

  private readonly after: Promise<void> | undefined;

  private constructor(
    path: string,
    slab: Buffer,
    fhP: Promise<FileHandle>,
    stats: WalStats,
    after: Promise<void> | undefined,
  ) {
    this.after = after;
    this.path = path;
    this.slab = slab;
    this.fhP = fhP;
    this.stats = stats;
  }

  /**
   * Creates the file (O_TRUNC) and makes its directory entry durable. `after` = the previous WAL
   * file is fully durable; nothing is written here before it resolves (and nothing ever if it
   * rejects).
   */
  static create(path: string, dir: string, slab: Buffer, stats: WalStats, after?: Promise<void>): WalFile {
    const fhP = (async () => {
      const fh = await open(path, 'w');
      try {
        await syncDir(dir);
      } catch (err) {
        await fh.close();
        throw err;
      }
      return fh;
    })();
    // the rejection is observed through pump(); avoid an unhandled rejection before that
    fhP.catch(() => undefined);
    // same for the barrier: a rejected one is reported to every waiter by pump()
    after?.catch(() => undefined);
    return new WalFile(path, slab, fhP, stats, after);
  }

  get error(): Error | undefined {
    return this.failed;
  }

  /** Resolves once slab bytes [0, end) are durable. */
  syncThrough(end: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (end <= this.synced) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('WAL file already sealed'));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ end, resolve, reject });
      if (end > this.target) this.target = end;
      if (!this.pumping) {
        // a microtask later: every put of this tick joins the same write + fdatasync
        this.pumping = Promise.resolve().then(() => this.pump());
      }
    });
  }

  /** Waits for every requested byte, then closes the handle. Throws the WAL error if any. */
  async seal(end: number): Promise<void> {
    try {
      await this.syncThrough(end);
    } finally {
      this.closed = true;
      await this.pumping;
      const fh = await this.fhP.catch(() => undefined);
      await fh?.close();
    }
  }

  private async pump(): Promise<void> {
    try {
      const fh = await this.fhP;
      if (this.after) await this.after;
      while (this.synced < this.target) {
        const end = this.target;
        await writeAll(fh, this.slab.subarray(this.synced, end), this.synced);
        await fh.datasync();
        this.stats.syncs++;
        this.stats.bytes += end - this.synced;
        this.synced = end;
        const done = this.waiters.filter((w) => w.end <= end);
        this.waiters = this.waiters.filter((w) => w.end > end);
        for (const w of done) w.resolve();
      }
    } catch (err) {
      this.failed = err instanceof Error ? err : new Error(String(err));
      const all = this.waiters;
      this.waiters = [];
      for (const w of all) w.reject(this.failed);
    } finally {
      this.pumping = undefined;
    }
  }
}
