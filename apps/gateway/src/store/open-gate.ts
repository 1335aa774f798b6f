// Opens in flight, so that reclaiming a replaced version can wait for them.
// Hazard this closes: `openObject` reads a head (an await) and only then pins its version; a commit
// that replaced that version in between must not reclaim its data under the reader. Invariant: a
// callback given to `afterOpensInFlight` runs only once every open that was in flight when it was
// given has left, and each open pins what it read (or read nothing) before it leaves. Opens that
// start later read the new head (the engine makes a put visible when it is issued, before the
// commit that schedules the reclaim), so they never need to be waited for: no starvation.

type Waiter = { remaining: number; run: () => void };
export type Opening = { waiters?: Waiter[] };

export class OpenGate {
  readonly #open = new Set<Opening>();

  enter(): Opening {
    const o: Opening = {};
    this.#open.add(o);
    return o;
  }

  leave(o: Opening): void {
    if (!this.#open.delete(o) || !o.waiters) return;
    for (const w of o.waiters) if (--w.remaining === 0) w.run();
  }

  /** Runs `run` now if no open is in flight, else when the last of those in flight now leaves. */
  afterOpensInFlight(run: () => void): void {
    if (this.#open.size === 0) {
      run();
      return;
    }
    const w: Waiter = { remaining: this.#open.size, run };
    for (const o of this.#open) {
      o.waiters ??= [];
      o.waiters.push(w);
    }
  }

  get inFlight(): number {
    return this.#open.size;
  }
}
