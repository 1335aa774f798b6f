// Invariant: a waiter of syncThrough(end) is resolved only after bytes [0, end) of the slab are
// written to the WAL file AND covered by a completed fdatasync that was issued after those bytes
// were written, and the file's directory entry was fsync'ed before the first acknowledgement.
// Writes issued in the same tick (or while syncs are in flight) share one write + one fdatasync
// (group commit). Up to MAX_SYNCS_IN_FLIGHT fdatasyncs overlap (pipelined group commit: the next
// group is written and its sync issued while the previous sync is still running; measured on
// this machine's ext4: 4 MiB groups ~0.6-1.1 GB/s with one sync at a time, ~1.3-1.5 GB/s with
// two). A sync covers what was written before it was issued, so completions may arrive in any
// order: `synced` only ever grows to the coverage of a completed sync. After any I/O error every
// pending and future waiter rejects: an unsynced write is never acknowledged (hazard 5.2-1).
// Cross-file order: a WAL file writes nothing until the previous WAL file is completely durable
// (`after`), so after a crash a later WAL file never holds records while an earlier one lost some
// (acknowledged or not): recovery always sees a prefix of the issued writes.
// Cache mode reuses the same pump without any sync (createUnsynced): a memtable's segment file
// is written while the memtable fills, so its flush only writes the tail. Its waiters resolve
// once the bytes are written, which promises nothing about durability, and nothing waits on them
// but the flush (seal).

import { type FileHandle, open } from 'node:fs/promises';
import { syncDir, writeAll } from './fsutil.ts';

interface Waiter {
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** fdatasyncs of one WAL file allowed to overlap (pipelined group commit, see the header). */
const MAX_SYNCS_IN_FLIGHT = 2;

export interface WalStats {
  syncs: number;
  bytes: number;
}

export class WalFile {
  readonly path: string;
  private readonly slab: Buffer;
  private readonly fhP: Promise<FileHandle>;
  private synced = 0;
  /** Bytes handed to completed writes (>= synced). */
  private written = 0;
  private target = 0;
  /** fdatasyncs in flight (each settles, never rejects: errors go through fail()). */
  private readonly syncsInFlight = new Set<Promise<void>>();
  private waiters: Waiter[] = [];
  private pumping: Promise<void> | undefined;
  private failed: Error | undefined;
  private closed = false;
  private readonly stats: WalStats;

  private readonly after: Promise<void> | undefined;
  /** false: cache mode, no fdatasync and no directory fsync (see the header). */
  private readonly sync: boolean;

  private constructor(
    path: string,
    slab: Buffer,
    fhP: Promise<FileHandle>,
    stats: WalStats,
    after: Promise<void> | undefined,
    sync = true,
  ) {
    this.after = after;
    this.sync = sync;
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

  /** Creates (O_TRUNC) a file written like a WAL but never synced: cache-mode segment files. */
  static createUnsynced(path: string, slab: Buffer, stats: WalStats): WalFile {
    const fhP = open(path, 'w');
    fhP.catch(() => undefined); // observed through pump()
    return new WalFile(path, slab, fhP, stats, undefined, false);
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
      // a sync covering less than `end` may still run: never close the handle under it
      await Promise.all([...this.syncsInFlight]);
      const fh = await this.fhP.catch(() => undefined);
      await fh?.close();
    }
  }

  private async pump(): Promise<void> {
    try {
      const fh = await this.fhP;
      if (this.after) await this.after;
      while (this.written < this.target && this.failed === undefined) {
        if (this.syncsInFlight.size >= MAX_SYNCS_IN_FLIGHT) {
          // let writers accumulate into the next group while the device works
          await Promise.race(this.syncsInFlight);
          continue;
        }
        const start = this.written;
        const end = this.target;
        await writeAll(fh, this.slab.subarray(start, end), start);
        this.written = end;
        this.stats.bytes += end - start;
        if (!this.sync) {
          this.syncedThrough(end);
          continue;
        }
        const sync: Promise<void> = fh.datasync().then(
          () => {
            this.syncsInFlight.delete(sync);
            this.stats.syncs++;
            this.syncedThrough(end);
          },
          (err: unknown) => {
            this.syncsInFlight.delete(sync);
            this.fail(err);
          },
        );
        this.syncsInFlight.add(sync);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.pumping = undefined;
    }
  }

  /** A sync issued after bytes [0, end) were written completed. */
  private syncedThrough(end: number): void {
    if (this.failed !== undefined || end <= this.synced) return;
    this.synced = end;
    const done = this.waiters.filter((w) => w.end <= end);
    this.waiters = this.waiters.filter((w) => w.end > end);
    for (const w of done) w.resolve();
  }

  private fail(err: unknown): void {
    this.failed ??= err instanceof Error ? err : new Error(String(err));
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.reject(this.failed);
  }
}
