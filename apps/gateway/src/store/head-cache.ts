// A bounded LRU of decoded object heads, so a hot GET reads no segment (the engine serves every
// get of a flushed value with a pread on the threadpool).
// Invariant: the cache never returns a head other than the one the engine holds now, or the one a
// commit in flight under the key lock is replacing (a read that overlaps an unacknowledged write
// may see either). The store is the only writer of heads and calls `changing` before it issues a
// head put/delete and `changed` after it resolved; a head read from the engine is kept only if no
// head changed meanwhile (`offer` with the generation taken before the read), so a slow read can
// never reinstall a replaced head.
// Only for engines that never drop values on their own (durable mode, onFull: reject): with
// eviction a cached head could outlive its record.
import type { ObjectHead } from './object-head.ts';

/** Bookkeeping bytes per entry on top of the encoded head (map entry, object, key string). */
const ENTRY_OVERHEAD_BYTES = 256;

export class HeadCache {
  readonly maxBytes: number;
  readonly #heads = new Map<string, { head: ObjectHead; bytes: number }>();
  #bytes = 0;
  #generation = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Take before reading a head from the engine; pass to `offer`. */
  get generation(): number {
    return this.#generation;
  }

  get(key: string): ObjectHead | undefined {
    const e = this.#heads.get(key);
    if (!e) return undefined;
    this.#heads.delete(key);
    this.#heads.set(key, e);
    return e.head;
  }

  /** A head read from the engine, kept only if no head changed since `generation` was taken. */
  offer(key: string, head: ObjectHead, encodedBytes: number, generation: number): void {
    if (generation === this.#generation) this.#set(key, head, encodedBytes);
  }

  /** Before a head put or delete is issued: readers from now on go to the engine. */
  changing(key: string): void {
    this.#generation++;
    this.#remove(key);
  }

  /** After the head put (head) or delete (undefined) resolved, still under the key lock. */
  changed(key: string, head: ObjectHead | undefined, encodedBytes: number): void {
    if (head) this.#set(key, head, encodedBytes);
  }

  get size(): number {
    return this.#heads.size;
  }

  #set(key: string, head: ObjectHead, encodedBytes: number): void {
    this.#remove(key);
    const bytes = encodedBytes + key.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    this.#heads.set(key, { head, bytes });
    this.#bytes += bytes;
    for (const [k, e] of this.#heads) {
      if (this.#bytes <= this.maxBytes) break;
      this.#heads.delete(k);
      this.#bytes -= e.bytes;
    }
  }

  #remove(key: string): void {
    const e = this.#heads.get(key);
    if (!e) return;
    this.#heads.delete(key);
    this.#bytes -= e.bytes;
  }
}
