// A per-key shared/exclusive lock (in-process). Many shared holders may run at once; an exclusive
// holder runs alone. Invariant: grants are FIFO, so a waiting exclusive request is never starved by
// a stream of shared ones (a shared request queued behind it waits too).
// Multipart use: part commits of one upload hold it shared (they touch different part records and
// their durable writes share syncs), completion and abort hold it exclusive.
type Waiter = { exclusive: boolean; grant: () => void };

type KeyState = { shared: number; exclusive: boolean; queue: Waiter[] };

export class SharedLock {
  readonly #keys = new Map<string, KeyState>();

  shared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.#run(key, false, fn);
  }

  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.#run(key, true, fn);
  }

  async #run<T>(key: string, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    let state = this.#keys.get(key);
    if (!state) {
      state = { shared: 0, exclusive: false, queue: [] };
      this.#keys.set(key, state);
    }
    const s = state;
    const free = exclusive ? !s.exclusive && s.shared === 0 : !s.exclusive;
    if (free && s.queue.length === 0) {
      if (exclusive) s.exclusive = true;
      else s.shared++;
    } else {
      await new Promise<void>((grant) => s.queue.push({ exclusive, grant }));
    }
    try {
      return await fn();
    } finally {
      if (exclusive) s.exclusive = false;
      else s.shared--;
      this.#wake(key, s);
    }
  }

  #wake(key: string, s: KeyState): void {
    while (s.queue.length > 0) {
      const next = s.queue[0] as Waiter;
      if (next.exclusive) {
        if (s.exclusive || s.shared > 0) return;
        s.queue.shift();
        s.exclusive = true;
        next.grant();
        return;
      }
      if (s.exclusive) return;
      s.queue.shift();
      s.shared++;
      next.grant();
    }
    if (!s.exclusive && s.shared === 0) this.#keys.delete(key);
  }
}
