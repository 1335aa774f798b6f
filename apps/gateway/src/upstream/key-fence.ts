// Orders write-through writes against reads that would fill the cache, per (bucket, key).
// Invariant: a read whose upstream answer may predate a write never updates the cache: every read
// registered while a write is in flight, or overlapping a write's start, is poisoned, and a
// poisoned read neither commits its fill nor records a negative entry. This is what keeps a
// DELETE from being resurrected by a miss that fetched the object just before upstream deleted it
// (and a PUT from being followed by a remembered 404).
// Entries exist only while reads or writes are registered, so memory follows in-flight work.
export type ReadTicket = {
  /** True once a write to the key started after (or before, still running) this read. */
  readonly poisoned: boolean;
  end(): void;
};

type KeyState = { writes: number; reads: Set<{ poisoned: boolean }> };

export class KeyFence {
  readonly #keys = new Map<string, KeyState>();

  #state(key: string): KeyState {
    let s = this.#keys.get(key);
    if (!s) {
      s = { writes: 0, reads: new Set() };
      this.#keys.set(key, s);
    }
    return s;
  }

  #release(key: string, s: KeyState): void {
    if (s.writes === 0 && s.reads.size === 0 && this.#keys.get(key) === s) this.#keys.delete(key);
  }

  /** Registers a cache-filling read; call `end()` when it committed or gave up. */
  beginRead(key: string): ReadTicket {
    const s = this.#state(key);
    const flag = { poisoned: s.writes > 0 };
    s.reads.add(flag);
    let ended = false;
    return {
      get poisoned() {
        return flag.poisoned;
      },
      end: () => {
        if (ended) return;
        ended = true;
        s.reads.delete(flag);
        this.#release(key, s);
      },
    };
  }

  /** Registers a write: poisons every read in flight; call the returned function when done. */
  beginWrite(key: string): () => void {
    const s = this.#state(key);
    s.writes++;
    for (const r of s.reads) r.poisoned = true;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      // Reads that started during the write were poisoned on registration; poison them again in
      // case one registered between the write's upstream answer and now.
      for (const r of s.reads) r.poisoned = true;
      s.writes--;
      this.#release(key, s);
    };
  }

  /** Poisons every in-flight read whose key starts with `prefix` (purges). */
  poisonPrefix(prefix: string): void {
    for (const [k, s] of this.#keys) if (k.startsWith(prefix)) for (const r of s.reads) r.poisoned = true;
  }

  get size(): number {
    return this.#keys.size;
  }
}
