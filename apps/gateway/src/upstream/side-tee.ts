// Splits one body between a main consumer (the upstream request) and a side consumer (the cache's
// chunk writer), piece by piece, without buffering the body.
// Invariants:
// - Memory is bounded: the main consumer gets a piece only once the side consumer took it, so at
//   most one piece waits between them (the side consumer bounds its own buffering).
// - The side never holds the main body back for good: once it stops (`return()`, or `detach()`
//   after its own failure) it is dropped and the main body flows on alone.
// - The side never sees a body end that the main did not reach cleanly: a source failure (e.g.
//   payload verification) or a main consumer that stops early is thrown to the side, so a cached
//   copy can never be committed from a body the upstream did not get in full.
import assert from 'node:assert/strict';

export class SideTee {
  readonly main: AsyncIterable<Uint8Array>;
  readonly side: AsyncIterable<Uint8Array>;
  #slot: Uint8Array | undefined;
  #ended = false;
  #failure: unknown;
  #detached = false;
  /** Wakes the side consumer waiting for a piece, the end, or a failure. */
  #wakeSide: (() => void) | undefined;
  /** Wakes the main body waiting for the side to take the piece in the slot. */
  #wakeMain: (() => void) | undefined;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.main = this.#mainBody(source);
    this.side = { [Symbol.asyncIterator]: () => this.#sideIterator() };
  }

  /** Stops feeding the side (its consumer failed); the main body goes on. */
  detach(): void {
    this.#detached = true;
    this.#slot = undefined;
    this.#signalMain();
  }

  #signalSide(): void {
    const wake = this.#wakeSide;
    this.#wakeSide = undefined;
    wake?.();
  }

  #signalMain(): void {
    const wake = this.#wakeMain;
    this.#wakeMain = undefined;
    wake?.();
  }

  #fail(err: unknown): void {
    this.#failure ??= err ?? new Error('body failed');
    this.#signalSide();
  }

  async *#mainBody(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let complete = false;
    try {
      for await (const piece of source) {
        if (!this.#detached && piece.byteLength > 0) {
          assert(this.#slot === undefined, 'one piece at a time');
          this.#slot = piece;
          const taken = new Promise<void>((resolve) => {
            this.#wakeMain = resolve;
          });
          this.#signalSide();
          await taken;
        }
        yield piece;
      }
      complete = true;
      this.#ended = true;
      this.#signalSide();
    } catch (err) {
      this.#fail(err);
      throw err;
    } finally {
      // Stopped early by the main consumer (the upstream request failed): not a whole body.
      if (!complete) this.#fail(new Error('the body was not sent upstream in full'));
    }
  }

  #sideIterator(): AsyncIterator<Uint8Array> {
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          // Never a clean end: only a body the main consumer fully took may look complete.
          if (this.#detached) throw new Error('the side of the body was detached');
          if (this.#failure !== undefined) throw this.#failure;
          const piece = this.#slot;
          if (piece !== undefined) {
            this.#slot = undefined;
            this.#signalMain();
            return { done: false, value: piece };
          }
          if (this.#ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => {
            this.#wakeSide = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        this.detach();
        return { done: true, value: undefined };
      },
    };
  }
}
