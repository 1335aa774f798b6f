// A map with a hard entry cap and per-entry expiry, used for the negative cache (upstream 404s)
// and for freshness records. Invariant: never more than `maxEntries` entries; when full, the
// oldest insertion goes first (a re-set moves an entry to the back).
import assert from 'node:assert/strict';

export class BoundedTtlMap<V> {
  readonly #entries = new Map<string, { value: V; expiresMs: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(maxEntries: number, now: () => number = Date.now) {
    assert(Number.isInteger(maxEntries) && maxEntries > 0, 'maxEntries is a positive integer');
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /** Stores `value` for `ttlMs` (a ttl of 0 stores nothing). */
  set(key: string, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    if (ttlMs <= 0) return;
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresMs: this.#now() + ttlMs });
  }

  /** The live value, or undefined (expired entries are dropped on sight). */
  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresMs <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Deletes every key starting with `prefix`; returns how many. O(entries). */
  deletePrefix(prefix: string): number {
    let n = 0;
    for (const k of this.#entries.keys()) {
      if (k.startsWith(prefix)) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#entries.size;
  }
}
