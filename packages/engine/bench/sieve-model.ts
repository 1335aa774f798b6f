// Reference models for SIEVE fidelity checks (bench and tests): an exact SIEVE cache (Zhang et
// al., NSDI '24) counted in items, and a deterministic Zipf(s=1) trace generator. The model is
// the textbook algorithm: a miss inserts at the head; a hit sets the visited bit; on a miss with
// a full cache the hand walks from its position towards the head (wrapping to the tail),
// clearing visited bits, and evicts the first unvisited item; the hand persists across evictions.

/** Hit ratio of an exact SIEVE cache of `capacity` items over `trace` (item ids). */
export function sieveHitRatio(trace: readonly number[], capacity: number): number {
  // doubly linked list: toHead = newer neighbour, toTail = older neighbour
  const toHead = new Map<number, number | undefined>();
  const toTail = new Map<number, number | undefined>();
  const visited = new Map<number, boolean>();
  let head: number | undefined;
  let tail: number | undefined;
  let hand: number | undefined;
  let hits = 0;
  for (const key of trace) {
    if (visited.has(key)) {
      hits++;
      visited.set(key, true);
      continue;
    }
    if (capacity < 1) continue;
    if (visited.size >= capacity) {
      let n = hand ?? (tail as number);
      while (visited.get(n)) {
        visited.set(n, false);
        n = toHead.get(n) ?? (tail as number);
      }
      hand = toHead.get(n);
      const h = toHead.get(n);
      const t = toTail.get(n);
      if (h !== undefined) toTail.set(h, t);
      else head = t;
      if (t !== undefined) toHead.set(t, h);
      else tail = h;
      toHead.delete(n);
      toTail.delete(n);
      visited.delete(n);
    }
    toHead.set(key, undefined);
    toTail.set(key, head);
    if (head !== undefined) toHead.set(head, key);
    head = key;
    tail ??= key;
    visited.set(key, false);
  }
  return hits / trace.length;
}

/** `length` draws of a Zipf(s=1) distribution over ranks 0..n-1 (0 most popular), seeded LCG. */
export function zipfTrace(n: number, length: number, seed: number): number[] {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 1; k <= n; k++) total += 1 / k;
  let acc = 0;
  for (let k = 1; k <= n; k++) {
    acc += 1 / k / total;
    cdf[k - 1] = acc;
  }
  let state = seed >>> 0;
  const out: number[] = new Array(length);
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const u = state / 2 ** 32;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}
