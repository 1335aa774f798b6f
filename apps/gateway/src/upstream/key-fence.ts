// Orders write-through writes against reads that would fill the cache, per (bucket, key).
// Invariant: a read whose upstream answer may predate a write never updates the cache: every read
// registered while a write is in flight, or overlapping a write's start, is poisoned, and a
// poisoned read neither commits its fill nor records a negative entry. This is what keeps a
// DELETE from being resurrected by a miss that fetched the object just before upstream deleted it
// (and a PUT from being followed by a remembered 404).
// Writes are ordered against each other too: two writes to a key that overlap in time (one began
// while the other was in flight) may land upstream in either order, so both are `overlapped` and
// neither may install its result in the cache (they drop the cached copy instead).
// Entries exist only while reads or writes are registered, so memory follows in-flight work.
export type ReadTicket = {
  /** True once a write to the key started after (or before, still running) this read. */
  readonly poisoned: boolean;
  end(): void;
};

export type WriteTicket = {
  /** True once another write to the key was in flight at the same time as this one. */
  readonly overlapped: boolean;
  end(): void;
};

type KeyState = { writes: Set<{ overlapped: boolean }>; reads: Set<{ poisoned: boolean }> };

export class KeyFence {
  readonly #keys = new Map<string, KeyState>();

  #state(key: string): KeyState {
    let s = this.#keys.get(key);
    if (!s) {
      s = { writes: new Set(), reads: new Set() };
      this.#keys.set(key, s);
    }
    return s;
  }

  #release(key: string, s: KeyState): void {
    if (s.writes.size === 0 && s.reads.size === 0 && this.#keys.get(key) === s) this.#keys.delete(key);
  }

  /** Registers a cache-filling read; call `end()` when it committed or gave up. */
  beginRead(key: string): ReadTicket {
    const s = this.#state(key);
    const flag = { poisoned: s.writes.size > 0 };
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

  /**
   * Registers a write: poisons every read in flight and marks writes in flight (and this one, if
   * there are any) overlapped; call `end()` when done.
   */
  beginWrite(key: string): WriteTicket {
    const s = this.#state(key);
    const flag = { overlapped: s.writes.size > 0 };
    for (const w of s.writes) w.overlapped = true;
    s.writes.add(flag);
    for (const r of s.reads) r.poisoned = true;
    let ended = false;
    return {
      get overlapped() {
        return flag.overlapped;
      },
      end: () => {
        if (ended) return;
        ended = true;
        // Reads that started during the write were poisoned on registration; poison them again in
        // case one registered between the write's upstream answer and now.
        for (const r of s.reads) r.poisoned = true;
        s.writes.delete(flag);
        this.#release(key, s);
      },
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
