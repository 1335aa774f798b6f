// Invariant: a slab handed out by take() is one nothing else can read or write any more. A
// memtable slab is recyclable only after BOTH of these ended:
//  1. its owners let it go: the memtable was flushed and committed (WAL / segment file writes of
//     it completed: flushOne awaits seal before commitFlush; the key index rows were copied out
//     of it: applyBehind encodes them synchronously) and the read cache of flushed slabs dropped
//     it (evicted, segment doomed, or never admitted). The engine calls release() exactly then;
//  2. no reader holds a view of it: view() callbacks pin the slab while they run (they may await
//     while holding the view); every other read path copies the bytes out synchronously, in the
//     same step that found them (get, getInto, listings with values, the key index rows).
// A slab released while pinned waits here (deferred) and goes to the idle list at its last
// unpin. A slab is in exactly one state: issued (to a memtable or the read cache), deferred, or
// idle (or forgotten: garbage); release() of a slab that is not issued is ignored, so a view of a
// tight copy or of an oversize memtable never enters the pool.
//
// Why: a fresh slab costs its first-touch page faults (kernel zeroing + mapping) on the main
// thread, which copies every value into it: copying 128 MiB into fresh 16 MiB slabs took ~76 ms
// against ~11 ms into warm ones, about half of a large put's main-thread time, plus the GCs that
// 32 MiB external allocations trigger. A flushed slab the read cache lets go is warm memory.
//
// Bounded: at most maxIdleSlabs idle slabs (maxIdleSlabs x slabBytes of memory beyond the
// memtables and the read cache; these slabs were garbage waiting for a GC before); a slab
// released into a full pool is left to the GC. close() empties the pool.

import assert from 'node:assert';

export class SlabPool {
  readonly slabBytes: number;
  readonly maxIdleSlabs: number;
  private readonly idle: Buffer[] = [];
  /** Slabs given to memtables (take or adopt) and not released since. */
  private readonly issued = new WeakSet<ArrayBufferLike>();
  /** Views in use per slab (view() callbacks running). */
  private readonly pins = new Map<ArrayBufferLike, number>();
  /** Released while pinned: recycled at the last unpin. */
  private readonly deferred = new Set<ArrayBufferLike>();
  private closed = false;
  /** Slabs handed out again from the pool (stats: slabsReused). */
  reused = 0;

  constructor(slabBytes: number, maxIdleSlabs: number) {
    assert(Number.isInteger(maxIdleSlabs) && maxIdleSlabs >= 0, 'maxIdleSlabs is a count >= 0');
    this.slabBytes = slabBytes;
    this.maxIdleSlabs = maxIdleSlabs;
  }

  get idleSlabs(): number {
    return this.idle.length;
  }

  /** A warm slab of slabBytes (any contents: the caller overwrites before reading), if idle. */
  take(): Buffer | undefined {
    const slab = this.idle.pop();
    if (slab === undefined) return undefined;
    this.issued.add(slab.buffer);
    this.reused++;
    return slab;
  }

  /** Makes a freshly allocated memtable slab recyclable (only whole slabs of slabBytes). */
  adopt(slab: Buffer): void {
    if (this.closed || !isWholeSlab(slab, this.slabBytes)) return;
    this.issued.add(slab.buffer);
  }

  /**
   * The slab that `bytes` views is no longer used by the memtable or the read cache. Hazard: call
   * only once nothing of the engine will read or write it again (see the invariant above).
   */
  release(bytes: Buffer): void {
    const ab = bytes.buffer;
    if (!this.issued.has(ab)) return; // not a pool slab (tight copy, oversize memtable)
    this.issued.delete(ab);
    if (this.pins.has(ab)) this.deferred.add(ab);
    else this.keep(ab);
  }

  /** Runs fn with `bytes` pinned until fn's result settles: its slab is not recycled meanwhile. */
  pinWhile<R>(bytes: Buffer, fn: (bytes: Buffer) => R | Promise<R>): R | Promise<R> {
    const ab = bytes.buffer;
    this.pins.set(ab, (this.pins.get(ab) ?? 0) + 1);
    let r: R | Promise<R>;
    try {
      r = fn(bytes);
    } catch (err) {
      this.unpin(ab);
      throw err;
    }
    if (!isThenable(r)) {
      this.unpin(ab);
      return r;
    }
    return Promise.resolve(r).finally(() => this.unpin(ab));
  }

  /** Forgets every idle and deferred slab (the GC takes them); later releases are ignored. */
  close(): void {
    this.closed = true;
    this.idle.length = 0;
    this.deferred.clear();
  }

  private unpin(ab: ArrayBufferLike): void {
    const n = this.pins.get(ab);
    assert(n !== undefined && n > 0, 'unpin of a slab that is not pinned');
    if (n > 1) {
      this.pins.set(ab, n - 1);
      return;
    }
    this.pins.delete(ab);
    if (this.deferred.delete(ab)) this.keep(ab);
  }

  private keep(ab: ArrayBufferLike): void {
    if (this.closed || this.idle.length >= this.maxIdleSlabs) return; // left to the GC
    const slab = Buffer.from(ab as ArrayBuffer, 0, this.slabBytes);
    assert(isWholeSlab(slab, this.slabBytes), 'pool slabs are whole slabs');
    this.idle.push(slab);
  }
}

/** A buffer that is its whole allocation, of exactly `bytes` (what newMemtable allocates). */
function isWholeSlab(b: Buffer, bytes: number): boolean {
  return b.byteOffset === 0 && b.length === bytes && b.buffer.byteLength === bytes;
}

function isThenable<R>(r: R | Promise<R>): r is Promise<R> {
  return typeof (r as { then?: unknown } | null)?.then === 'function';
}
