// Fill-while-streaming: one upstream body is read once and goes both to the client that caused
// the miss (the "leader", if still attached) and into the cache store's chunk writer.
// Invariants:
// - The leader's first byte never waits for the whole object: each piece is written to it as it
//   arrives from upstream (its backpressure throttles the upstream read; memory stays bounded by
//   the chunk writer's in-flight chunks).
// - Nothing partial is ever visible: the cached object becomes readable only at the store's head
//   commit, after exactly Content-Length bytes arrived. A failed or short upstream body, a store
//   failure, or a racing write-through write (poisoned ticket, checked under the store's key lock)
//   aborts the fill and discards its chunks.
// - A leader that disconnects is detached; the fill continues for the followers waiting on it.
// - A cache-store failure costs the cache, not the leader: the rest of the upstream body is still
//   relayed to it (only an upstream failure cuts it off).
// - The leader's last piece is sent after the commit (or the abort): a GET sent once a miss
//   completed finds the object cached.
// - Followers (coalesced readers) read the fill's chunks as they land (`chunk(i)`), so their first
//   byte does not wait for the whole object either. A chunk that is missing once the fill ended
//   (aborted, or since evicted/reclaimed) is an error, never a short or padded read.
import type { ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { chunkKey } from '../store/layout.ts';
import type { ObjectHead } from '../store/object-head.ts';
import { BucketGoneError, type HeadFields, type ObjectStore } from '../store/object-store.ts';
import type { CacheCounters } from './counters.ts';
import type { ReadTicket } from './key-fence.ts';

/** Where the leader's bytes go. */
export type FillSink = {
  /** Resolves when the piece was accepted (or the sink went away). */
  write(piece: Uint8Array): Promise<void>;
  /** All bytes delivered. */
  end(): void;
  /** The body cannot be completed: cut the client off (it sees a truncated response). */
  fail(): void;
};

/** A one-shot wake-up: `promise` resolves when `resolve()` is called. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export class FillAbortedError extends Error {
  override name = 'FillAbortedError';
}

export type FillOptions = {
  store: ObjectStore;
  bucket: string;
  key: string;
  fields: HeadFields;
  body: AsyncIterable<Uint8Array>;
  ticket: ReadTicket;
  counters: CacheCounters;
  logger: Logger;
  /** Runs once the head committed, before `done` resolves. */
  onCommit?: (head: ObjectHead) => void;
};

export class Fill {
  readonly fields: HeadFields;
  /** The committed head, or undefined when the fill did not commit (never rejects). */
  readonly done: Promise<ObjectHead | undefined>;
  #sink: FillSink | undefined;
  #start!: (sink: FillSink | undefined) => void;
  #started = false;
  readonly #store: ObjectStore;
  /** The data id the chunks are written under, once the cache write began. */
  #versionId: string | undefined;
  #finished = false;
  #committed = false;
  #progress = signal();

  constructor(o: FillOptions) {
    this.fields = o.fields;
    this.#store = o.store;
    const started = new Promise<void>((resolve) => {
      this.#start = (sink) => {
        this.#sink = sink;
        resolve();
      };
    });
    this.done = started.then(() => this.#run(o));
  }

  /** Begins reading upstream; `sink` (the leader) receives every piece. Call exactly once. */
  start(sink?: FillSink): void {
    if (this.#started) return;
    this.#started = true;
    this.#start(sink);
  }

  get started(): boolean {
    return this.#started;
  }

  /** True once the fill committed or gave up. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Wakes followers waiting for the next chunk. */
  #pulse(): void {
    const p = this.#progress;
    this.#progress = signal();
    p.resolve();
  }

  /**
   * Chunk `index` of the object being filled, waiting for it to land. Throws FillAbortedError when
   * the fill ended without it (aborted, or the chunk was evicted since).
   */
  async chunk(index: number): Promise<Buffer> {
    for (;;) {
      const wait = this.#progress.promise;
      const id = this.#versionId;
      if (id !== undefined) {
        const bytes = await this.#store.engine.get(chunkKey(id, index));
        if (bytes) return bytes;
      }
      if (this.#finished) {
        throw new FillAbortedError(
          this.#committed ? `chunk ${index} of the filled object is gone` : 'the fill was aborted',
        );
      }
      await wait;
    }
  }

  async #run(o: FillOptions): Promise<ObjectHead | undefined> {
    const expected = o.fields.size;
    let received = 0;
    let bodyComplete = false;
    /** The upstream body itself failed (vs. the cache store): nothing more can be relayed. */
    let bodyFailed = false;
    const self = this;
    // Iterated by hand: when the chunk writer stops early (a store failure) it ends `tee`, and a
    // for-await would then destroy the upstream body the leader still needs.
    const upstreamPieces = o.body[Symbol.asyncIterator]();
    const nextPiece = async (): Promise<IteratorResult<Uint8Array>> => {
      try {
        const r = await upstreamPieces.next();
        if (!r.done) {
          received += r.value.byteLength;
          o.counters.inc('upstreamBytes', r.value.byteLength);
          if (received > expected) throw new FillAbortedError('upstream sent more bytes than Content-Length');
        } else if (received !== expected) {
          throw new FillAbortedError(`upstream body ended after ${received} of ${expected} bytes`);
        }
        return r;
      } catch (err) {
        bodyFailed = true;
        throw err;
      }
    };
    // The last piece reaches the leader only once the fill committed or gave up (finally, below):
    // a client knows its body is complete at its last byte, so a GET it sends after the miss
    // completed is then a hit, not a MISS joining this fill.
    let heldBack: Uint8Array | undefined;
    const sendHeldBack = async (sink: FillSink): Promise<void> => {
      const piece = heldBack;
      heldBack = undefined;
      if (piece) await sink.write(piece);
    };
    async function* tee(): AsyncGenerator<Uint8Array> {
      for (let r = await nextPiece(); !r.done; r = await nextPiece()) {
        const sink = self.#sink;
        if (received === expected) heldBack = r.value;
        else if (sink) await sink.write(r.value);
        yield r.value;
        self.#pulse();
      }
      bodyComplete = true;
    }
    let pending: Awaited<ReturnType<ObjectStore['beginWrite']>> | undefined;
    try {
      pending = await beginCacheWrite(o.store, o.bucket, o.key);
      this.#versionId = pending.versionId;
      this.#pulse();
      await pending.write(tee(), expected);
      this.#pulse();
      const head = await pending.commit(o.fields, () => {
        if (o.ticket.poisoned) throw new FillAbortedError('a write-through write raced this fill');
      });
      o.counters.inc('fills');
      this.#committed = true;
      o.onCommit?.(head);
      return head;
    } catch (err) {
      o.counters.inc('fillsAborted');
      if (!bodyComplete) {
        const sink = this.#sink;
        this.#sink = undefined;
        if (sink && !bodyFailed) {
          // The cache store failed, not the upstream: the leader still gets the whole object.
          await sendHeldBack(sink);
          await relayRest(nextPiece, sink);
        } else {
          sink?.fail();
          // Drain nothing further from upstream: destroying the body releases its socket.
          (o.body as { destroy?: () => void }).destroy?.();
        }
      }
      if (pending) await pending.abort().catch(() => {});
      const level = err instanceof FillAbortedError ? 'debug' : 'warn';
      o.logger[level]({ err, bucket: o.bucket, key: o.key }, 'cache fill aborted');
      return undefined;
    } finally {
      try {
        const sink = this.#sink;
        this.#sink = undefined;
        if (bodyComplete && sink) {
          // Every byte came from upstream: the leader's response is whole whether or not the
          // cache took it.
          await sendHeldBack(sink);
          sink.end();
        }
      } finally {
        this.#finished = true;
        this.#pulse();
        o.ticket.end();
      }
    }
  }
}

/** Sends the rest of an upstream body to the leader after the cache write failed. */
async function relayRest(next: () => Promise<IteratorResult<Uint8Array>>, sink: FillSink): Promise<void> {
  try {
    for (let r = await next(); !r.done; r = await next()) await sink.write(r.value);
    sink.end();
  } catch {
    sink.fail();
  }
}

/**
 * Starts a write into the cache store. The store refuses writes into buckets it has no record
 * of, and in the cache engine a bucket record can itself be evicted: (re)create it and retry once.
 */
export async function beginCacheWrite(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<Awaited<ReturnType<ObjectStore['beginWrite']>>> {
  for (let attempt = 0; ; attempt++) {
    await store.createBucket(bucket, 'upstream');
    try {
      return await store.beginWrite(bucket, key);
    } catch (err) {
      if (!(err instanceof BucketGoneError) || attempt > 0) throw err;
    }
  }
}

/** A sink writing to a node:http response, honouring its backpressure and its disappearance. */
export function responseSink(res: ServerResponse, onBytes?: (n: number) => void): FillSink {
  let gone = false;
  res.once('close', () => {
    gone = true;
  });
  return {
    write: (piece) => {
      if (gone || res.destroyed) return Promise.resolve();
      onBytes?.(piece.byteLength);
      if (res.write(piece)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
    end: () => {
      if (!gone) res.end();
    },
    fail: () => {
      res.destroy();
    },
  };
}
