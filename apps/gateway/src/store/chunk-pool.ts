// A bounded pool of chunk-sized read buffers, so streaming a large object allocates (and
// page-faults) nothing per chunk: a fresh 1 MiB buffer per chunk read made the kernel zero new
// pages on every read and, with several responses holding chunks in socket buffers, kept V8 in
// back-to-back major GCs (external-memory pressure), which cost more CPU than the reads.
//
// Invariant: a pooled buffer is handed out by at most one lease at a time, and goes back to the
// free list only through that lease's release(), which the holder calls once nothing (engine read,
// socket write) can touch the bytes any more; a second release() of the same lease is ignored, so a
// buffer can never be handed out twice at once.
//
// Bounded: at most maxBuffers pooled buffers exist (free or leased); past that acquire() hands out
// a plain buffer of its own that the GC frees like any other. Pooled buffers are never dropped
// while the pool knows them (dropping them made memory pile up between the now rare GCs); a lease
// that is never released (a response cut mid-write whose callback never runs) loses its buffer to
// the GC, and the pool forgets it once collected (FinalizationRegistry), so leaks cannot shrink it.
//
// The buffers live in SharedArrayBuffers: the engine then checks the CRC of a chunk read into one
// on a worker thread (engine getInto, crcoffload.ts) instead of the event loop. Fine only because
// they are reused: a SharedArrayBuffer seen by a worker outlives it until that worker's next GC.
import assert from 'node:assert/strict';

export type BufferLease = {
  readonly buffer: Buffer;
  /** Gives the buffer back; idempotent. */
  release(): void;
};

const NOTHING_TO_RELEASE = (): void => {};

export class ChunkPool {
  readonly bufferBytes: number;
  readonly maxBuffers: number;
  readonly #free: Buffer[] = [];
  /** Pooled buffers in existence (free or leased, minus leaked ones already collected). */
  #pooled = 0;
  readonly #forget = new FinalizationRegistry<number>(() => {
    this.#pooled--;
  });
  /** Buffers allocated over the pool's lifetime, pooled or not (for tests and metrics). */
  allocated = 0;

  constructor(bufferBytes: number, maxBuffers: number) {
    assert(bufferBytes > 0 && Number.isInteger(bufferBytes), 'bufferBytes is a positive integer');
    assert(maxBuffers >= 0 && Number.isInteger(maxBuffers), 'maxBuffers is an integer >= 0');
    this.bufferBytes = bufferBytes;
    this.maxBuffers = maxBuffers;
  }

  get freeBuffers(): number {
    return this.#free.length;
  }

  get pooledBuffers(): number {
    return this.#pooled;
  }

  acquire(): BufferLease {
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      this.allocated++;
      if (this.#pooled >= this.maxBuffers) {
        // Over the bound: a buffer of its own (never a slice of Node's slab pool), not reused.
        return { buffer: Buffer.allocUnsafeSlow(this.bufferBytes), release: NOTHING_TO_RELEASE };
      }
      buffer = Buffer.from(new SharedArrayBuffer(this.bufferBytes));
      this.#pooled++;
      this.#forget.register(buffer, 0, buffer);
    }
    let out = true;
    const held = buffer;
    return {
      buffer: held,
      release: () => {
        if (!out) return;
        out = false;
        this.#free.push(held);
      },
    };
  }
}
