// Coalesces concurrent work on one key: while a flight for a key is running, later callers join
// it instead of starting their own. Invariant: at most one flight per key runs at a time, and a
// flight is forgotten as soon as it settles (or is detached), so the map holds only running work.
// A flight whose result starts more work (a fill streaming on after the response headers) can ask
// to stay joinable until that work ends (`holdUntil`), closing the gap where a late caller would
// find neither a flight nor a cached copy and start a second upstream request.
export type Joined<V> = { value: Promise<V>; leader: boolean };

export class SingleFlight<V> {
  readonly #flights = new Map<string, Promise<V>>();

  /** Runs `fn` for `key`, or joins the flight already running for it. */
  run(key: string, fn: () => Promise<V>, holdUntil?: (v: V) => Promise<unknown> | undefined): Joined<V> {
    const running = this.#flights.get(key);
    if (running) return { value: running, leader: false };
    const value = (async () => fn())();
    this.#flights.set(key, value);
    const forget = (): void => {
      if (this.#flights.get(key) === value) this.#flights.delete(key);
    };
    value.then((v) => {
      const more = holdUntil?.(v);
      if (more) more.then(forget, forget);
      else forget();
    }, forget);
    return { value, leader: true };
  }

  /**
   * Stops new callers from joining the running flight for `key` (a write made its result
   * untrustworthy); callers already joined keep their promise.
   */
  detach(key: string): void {
    this.#flights.delete(key);
  }

  get size(): number {
    return this.#flights.size;
  }
}
