// A small pool of chunk-sized read buffers, so streaming a large object allocates (and
// page-faults) nothing per chunk: a fresh 1 MiB buffer per chunk read made the kernel zero new
// pages on every read and, with several responses holding chunks in socket buffers, kept V8 in
// back-to-back major GCs (external-memory pressure), which cost more CPU than the reads.
//
// Invariant: a buffer is handed out by at most one lease at a time, and goes back to the free list
// only through that lease's release(), which the holder calls once nothing (engine read, socket
// write) can touch the bytes any more; a second release() of the same lease is ignored, so a
// buffer can never be handed out twice at once. Bounded: at most maxFreeBuffers are kept; past
// that a released buffer is dropped (the GC frees it), and acquire() allocates when the list is
// empty, so a lease that is never released (a response cut mid-write whose callback never runs)
// only costs the pool one buffer, never a wrong byte.
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

export class ChunkPool {
  readonly bufferBytes: number;
  readonly maxFreeBuffers: number;
  readonly #free: Buffer[] = [];
  /** Buffers allocated over the pool's lifetime (for tests and metrics). */
  allocated = 0;

  constructor(bufferBytes: number, maxFreeBuffers: number) {
    assert(bufferBytes > 0 && Number.isInteger(bufferBytes), 'bufferBytes is a positive integer');
    assert(maxFreeBuffers >= 0 && Number.isInteger(maxFreeBuffers), 'maxFreeBuffers is an integer >= 0');
    this.bufferBytes = bufferBytes;
    this.maxFreeBuffers = maxFreeBuffers;
  }

  get freeBuffers(): number {
    return this.#free.length;
  }

  acquire(): BufferLease {
    let buffer = this.#free.pop();
    if (buffer === undefined) {
      // Its own allocation (never a slice of Node's slab pool), shared with the engine's CRC worker.
      buffer = Buffer.from(new SharedArrayBuffer(this.bufferBytes));
      this.allocated++;
    }
    let out = true;
    const held = buffer;
    return {
      buffer: held,
      release: () => {
        if (!out) return;
        out = false;
        if (this.#free.length < this.maxFreeBuffers) this.#free.push(held);
      },
    };
  }
}
