// Invariant: a listing step yields the smallest key greater than the previous one among (a) LMDB
// rows (flushed keys) and (b) the sorted key lists of the unflushed memtables, and decides its
// visibility from the NEWEST source in the same synchronous step: the newest memtable entry
// (tombstone = hidden) or else the LMDB row checked against the hash index. Because a flush moves
// keys from a memtable into LMDB in one synchronous step and the LMDB window is refetched
// whenever LMDB changed, every put/delete acknowledged before a step is reflected in it. A page
// costs O(page + log n): LMDB range reads from the cursor plus a binary search per memtable.
// Fast path: the smallest unflushed key after the cursor (`memKey`) is cached while neither the
// memtables (write sequence) nor LMDB (generation) changed; every LMDB row below it has no
// unflushed version, so its visibility is the hash-index check alone (no rehash, no overlay),
// and not even that while the rows are exact (`rowsExact`: every row has its hash-index node,
// i.e. no eviction victim's LMDB delete is still queued and no LMDB batch failed). A random
// hash-table probe per key was a third of the listing's cost.

import { type KeyIndex, type KeyRow, rowView } from './keyindex.ts';
import { lowerBound, type Memtable } from './memtable.ts';

export interface KeyEntry {
  key: Buffer;
  /** Value size in bytes. */
  size: number;
  /** Present when withValues was asked and size <= maxInlineValueBytes. */
  value?: Buffer;
}

export interface ListingSource {
  keyIndex(): KeyIndex;
  /** Unflushed memtables (any order). */
  memtables(): Iterable<Memtable>;
  checkOpen(): void;
  /** Visibility of one candidate key (row = its LMDB row if it came from LMDB). */
  resolve(key: Buffer, row: KeyRow | undefined, withValues: boolean): KeyEntry | undefined;
  /**
   * True when every LMDB row is live (has its hash-index node); may first issue queued LMDB
   * deletes (synchronously), which moves the key index generation.
   */
  rowsExact(): boolean;
  /**
   * Visibility of an LMDB row (raw, see KeyIndex.window) whose key no memtable holds; `exact`:
   * rowsExact() held in this step, so the row is live.
   */
  resolveFlushed(key: Buffer, raw: Buffer, withValues: boolean, exact: boolean): KeyEntry | undefined;
  /** Changes whenever a memtable gains an entry (the engine's write sequence). */
  writeGeneration(): number;
}

export interface ListingRequest {
  prefix: Buffer | undefined;
  startAfter: Buffer | undefined;
  limit: number;
  withValues: boolean;
}

const WINDOW_ROWS = 1024;

/**
 * The listing as a synchronous generator: nothing in a step awaits, so every step sees the
 * engine as of that step. Callers may await between steps (each step rechecks the generations).
 */
export function* listKeysSync(src: ListingSource, req: ListingRequest): Generator<KeyEntry, void, undefined> {
  const from = req.prefix && req.prefix.length > 0 ? req.prefix : undefined;
  let after = req.startAfter && req.startAfter.length > 0 ? req.startAfter : undefined;
  if (after && from && Buffer.compare(after, from) < 0) after = undefined;
  const end = from ? prefixEnd(from) : undefined;
  const windowSize = Math.min(WINDOW_ROWS, Number.isFinite(req.limit) ? req.limit + 1 : WINDOW_ROWS);
  let win: { key: Buffer; raw: Buffer }[] = [];
  let wi = 0;
  let winGen = -1;
  let winExhausted = false;
  let yielded = 0;
  let memKey: Buffer | undefined;
  let memWriteGen = -1;
  let memIndexGen = -1;
  while (yielded < req.limit) {
    src.checkOpen();
    const exact = src.rowsExact(); // before the generation check: it may apply LMDB deletes
    const ki = src.keyIndex();
    if (winGen !== ki.generation || (wi >= win.length && !winExhausted)) {
      win = ki.window(from, after, end, windowSize);
      winExhausted = win.length < windowSize;
      wi = 0;
      winGen = ki.generation;
    }
    while (wi < win.length && after && Buffer.compare(win[wi]!.key, after) <= 0) wi++;
    const writeGen = src.writeGeneration();
    if (
      memWriteGen !== writeGen ||
      memIndexGen !== ki.generation ||
      (memKey && after && Buffer.compare(memKey, after) <= 0)
    ) {
      memKey = nextMemKey(src, from, after);
      memWriteGen = writeGen;
      memIndexGen = ki.generation;
    }
    const lmdbKey = wi < win.length ? win[wi]!.key : undefined;
    if (lmdbKey && (!memKey || Buffer.compare(lmdbKey, memKey) < 0)) {
      // fast path: no unflushed version of this key exists
      if (end && Buffer.compare(lmdbKey, end) >= 0) return;
      if (from && !startsWith(lmdbKey, from)) return;
      after = lmdbKey;
      const entry = src.resolveFlushed(lmdbKey, win[wi]!.raw, req.withValues, exact);
      wi++;
      if (!entry) continue;
      yielded++;
      yield entry;
      continue;
    }
    let cand = lmdbKey;
    if (memKey && (!cand || Buffer.compare(memKey, cand) < 0)) cand = memKey;
    if (!cand) return;
    if (end && Buffer.compare(cand, end) >= 0) return;
    if (from && !startsWith(cand, from)) return;
    after = cand;
    const fromLmdb = lmdbKey?.equals(cand) === true;
    const entry = src.resolve(cand, fromLmdb ? rowView(win[wi]!.raw) : undefined, req.withValues);
    if (fromLmdb) wi++;
    if (!entry) continue;
    yielded++;
    yield entry;
  }
}

/**
 * Async view of listKeysSync for `for await`: a plain iterator object whose next() returns an
 * already settled promise is several times cheaper per key than an async generator's yield.
 */
export function listKeys(src: ListingSource, req: ListingRequest): AsyncIterableIterator<KeyEntry> {
  const it = listKeysSync(src, req);
  const iter: AsyncIterableIterator<KeyEntry> = {
    next: () => {
      try {
        return Promise.resolve(it.next());
      } catch (err) {
        return Promise.reject(err);
      }
    },
    return: () => Promise.resolve(it.return(undefined)),
    [Symbol.asyncIterator]: () => iter,
  };
  return iter;
}

/** The smallest unflushed key > after (or >= from), over every memtable. */
function nextMemKey(
  src: ListingSource,
  from: Buffer | undefined,
  after: Buffer | undefined,
): Buffer | undefined {
  let memKey: Buffer | undefined;
  for (const mt of src.memtables()) {
    if (mt.isEmpty) continue;
    const sorted = mt.sortedKeys();
    const i = after ? lowerBound(sorted, after, false) : from ? lowerBound(sorted, from, true) : 0;
    const c = sorted[i];
    if (c && (!memKey || Buffer.compare(c, memKey) < 0)) memKey = c;
  }
  return memKey;
}

/** Smallest key greater than every key with this prefix; undefined if the prefix is all 0xff. */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
}
