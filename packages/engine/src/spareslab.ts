// Invariant: a slab handed out by take() is touched by nobody but its new owner: the prefault read
// that fills a spare has completed (its promise settled) before take() can return it, and a spare
// whose read failed is never handed out. At most ONE spare exists (memtableBytes of memory beyond
// the memtables), and only while writes stream in (prepare() is called once the active memtable
// is partly full); close() drops it.
//
// Why: a memtable slab is fresh memory, and the first write to each 4 KiB page takes a page fault
// (kernel zeroing + mapping) on the thread that writes. Copying 64 KiB values into a fresh slab
// ran at ~1.3-3.7 GB/s against ~45 GB/s into warm memory, and it is the main thread that copies:
// ~40% of a 64 KiB cache put's main-thread time. Reading /dev/zero into the spare makes the
// kernel take those faults on a libuv thread-pool thread (another core) while the current
// memtable fills.
//
// Hazard (why not a worker + SharedArrayBuffer, tried before): such slabs were not released
// promptly and the gateway's peak RSS went from 271 to 1317 MiB. The spare here is an ordinary
// Buffer: accounted to V8 like any other slab and collected once its memtable and the read cache
// let it go.

import { type FileHandle, open } from 'node:fs/promises';

const ZERO_DEVICE = '/dev/zero';

interface Spare {
  readonly buf: Buffer;
  ready: boolean;
  failed: boolean;
  filled: Promise<void>;
}

export class SpareSlab {
  readonly slabBytes: number;
  private zero: Promise<FileHandle | undefined> | undefined;
  private spare: Spare | undefined;
  private disabled: boolean;
  /** Slabs handed out prefaulted / allocated cold (stats and tests). */
  warmTakes = 0;
  coldTakes = 0;

  /** `enabled` false: take() always allocates and prepare() does nothing. */
  constructor(slabBytes: number, enabled: boolean) {
    this.slabBytes = slabBytes;
    this.disabled = !enabled;
  }

  /** Starts prefaulting a spare slab unless one exists (or is being prefaulted). */
  prepare(): void {
    if (this.disabled || this.spare !== undefined) return;
    const spare: Spare = {
      buf: Buffer.allocUnsafeSlow(this.slabBytes),
      ready: false,
      failed: false,
      filled: Promise.resolve(),
    };
    spare.filled = this.fill(spare.buf).then(
      () => {
        spare.ready = true;
      },
      () => {
        // No usable /dev/zero (or a read error): stop trying; take() allocates as before.
        spare.failed = true;
        this.disabled = true;
        if (this.spare === spare) this.spare = undefined;
      },
    );
    this.spare = spare;
  }

  /**
   * A buffer of `bytes` with unspecified contents (callers overwrite before reading, as with
   * Buffer.allocUnsafeSlow): the prefaulted spare when it is ready and the size matches.
   */
  take(bytes: number): Buffer {
    const s = this.spare;
    if (bytes === this.slabBytes && s !== undefined && s.ready && !s.failed) {
      this.spare = undefined;
      this.warmTakes++;
      return s.buf;
    }
    this.coldTakes++;
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** Settles once the current spare's prefault read has (tests; resolves at once without one). */
  settled(): Promise<void> {
    return this.spare?.filled ?? Promise.resolve();
  }

  /** Drops the spare and closes /dev/zero once an in-flight prefault read has finished. */
  async close(): Promise<void> {
    this.disabled = true;
    const s = this.spare;
    this.spare = undefined;
    if (s) await s.filled;
    const fh = await this.zero?.catch(() => undefined);
    this.zero = undefined;
    await fh?.close().catch(() => undefined);
  }

  private async fill(buf: Buffer): Promise<void> {
    this.zero ??= open(ZERO_DEVICE, 'r').catch(() => undefined);
    const fh = await this.zero;
    if (!fh) throw new Error(`${ZERO_DEVICE} unavailable`);
    let off = 0;
    while (off < buf.length) {
      // /dev/zero may return less than asked (a signal): loop until every page was written
      const { bytesRead } = await fh.read(buf, off, buf.length - off, null);
      if (bytesRead <= 0) throw new Error(`${ZERO_DEVICE} returned no bytes`);
      off += bytesRead;
    }
  }
}
