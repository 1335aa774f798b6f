// Invariant: every buffer held here is byte for byte what the engine itself wrote to segment
// `id` (the slab of the sealed memtable that became that segment, never bytes read back from
// storage) and is never written again. So serving from it needs no CRC check: nothing here ever
// came from the disk, and the bytes cannot change after the memtable was sealed. The engine only
// looks up (segment, offset) pairs the hash index currently points at, and segment ids are never
// reused, so a slab of a segment that was dropped is unreachable; drop() frees it early.
//
// Bounded: at most maxBytes of slabs (counted by their whole allocation), oldest flushed first
// out (the design's "Librarian": recently written data is the likeliest to be read again).
//
// Every memtable slab handed to add() is given back through onRelease exactly once, in the step
// that stops this cache from using it: not admitted, replaced by its tight copy, evicted or
// dropped. Hazard: the engine recycles a released slab for a new memtable (slabpool.ts), so a
// slab must never be released while get() can still return a view of it; clear() (close)
// releases nothing.

import assert from 'node:assert';

export class SlabCache {
  readonly maxBytes: number;
  /** Insertion order is flush order: the first key is the oldest slab. */
  private readonly slabs = new Map<number, Buffer>();
  bytes = 0;
  hits = 0;
  /** Called with a slab (a view of it) this cache no longer uses (set by the engine). */
  onRelease: (slab: Buffer) => void = () => undefined;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Keeps the bytes of segment `id` (which must be final: the sealed memtable's [0, used)). */
  add(id: number, bytes: Buffer): void {
    if (this.maxBytes === 0 || bytes.length === 0 || bytes.length > this.maxBytes) {
      this.onRelease(bytes);
      return;
    }
    // A mostly empty slab (a small flush) would pin its whole allocation: keep a tight copy.
    let keep = bytes;
    if (bytes.buffer.byteLength > 2 * bytes.length) {
      keep = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(keep);
      this.onRelease(bytes); // copied synchronously above: the slab has no reader here
    }
    assert(!this.slabs.has(id), 'a segment id is flushed (and cached) once');
    this.slabs.set(id, keep);
    this.bytes += footprint(keep);
    for (const [oldId] of this.slabs) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldId);
    }
  }

  get(id: number): Buffer | undefined {
    return this.slabs.get(id);
  }

  drop(id: number): void {
    const b = this.slabs.get(id);
    if (!b) return;
    this.slabs.delete(id);
    this.bytes -= footprint(b);
    this.onRelease(b);
  }

  clear(): void {
    this.slabs.clear();
    this.bytes = 0;
  }
}

/** Memory a held buffer keeps alive: its whole allocation when it is a view of a larger one. */
function footprint(b: Buffer): number {
  return Math.max(b.length, b.buffer.byteLength);
}
