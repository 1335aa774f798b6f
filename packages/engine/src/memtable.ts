// Invariant: a memtable's slab holds, from byte 0, exactly the bytes its segment file will hold
// (segment header, then records in append order), so a durable-mode flush is a rename of the WAL
// file and a cache-mode flush is one write. Its entry map holds the newest record per key hash;
// an entry is never replaced by one with a lower seq (zombie-writer guard, hazard 5.1-2).

import assert from 'node:assert';
import { encodeRecord, RECORD_HEADER_BYTES, recordBytes } from './record.ts';
import { encodeSegHeader, SEG_HEADER_BYTES, type SegEntry } from './segfile.ts';
import type { WalFile } from './wal.ts';

export interface MemEntry extends SegEntry {
  /** A read hit it before its flush: the flush carries this into SIEVE's visited bit. */
  readBeforeFlush?: boolean;
}

export class Memtable {
  readonly id: number;
  readonly slab: Buffer;
  used: number;
  readonly entries = new Map<string, MemEntry>();
  wal: WalFile | undefined;
  /** Cache mode: the segment file, written while the memtable fills (engine writeSegAhead). */
  segFile: WalFile | undefined;
  /** Cache mode: slab bytes [0, segRequested) have been handed to segFile. */
  segRequested = 0;
  sealed = false;
  /** Time of the first append (0 while empty): the age flushIntervalMs measures. */
  firstWriteMs = 0;
  private sorted: Buffer[] = [];
  private unsorted: Buffer[] = [];

  /** `slab`: a capacity to allocate, or memory (any contents) the memtable owns from now on. */
  constructor(id: number, slab: number | Buffer) {
    this.id = id;
    this.slab = typeof slab === 'number' ? Buffer.allocUnsafeSlow(Math.max(slab, SEG_HEADER_BYTES)) : slab;
    assert(this.slab.length >= SEG_HEADER_BYTES, 'memtable slab smaller than a segment header');
    encodeSegHeader(this.slab, id);
    this.used = SEG_HEADER_BYTES;
  }

  static capacityFor(keyLen: number, valueLen: number): number {
    return SEG_HEADER_BYTES + recordBytes(keyLen, valueLen);
  }

  get isEmpty(): boolean {
    return this.used === SEG_HEADER_BYTES;
  }

  fits(len: number): boolean {
    return this.used + len <= this.slab.length;
  }

  get(hashStr: string): MemEntry | undefined {
    return this.entries.get(hashStr);
  }

  /** Encodes the record into the slab and indexes it; value undefined = tombstone. */
  append(seq: number, key: Buffer, hash: Buffer, hashStr: string, value: Uint8Array | undefined): MemEntry {
    assert(!this.sealed, 'append to a sealed memtable');
    const prev = this.entries.get(hashStr);
    assert(!prev || prev.seq < seq, 'sequence regression in memtable');
    const pos = this.used;
    if (this.firstWriteMs === 0) this.firstWriteMs = Date.now();
    const len = encodeRecord(this.slab, pos, seq, key, value);
    this.used += len;
    const e: MemEntry = {
      key,
      hash,
      pos,
      len,
      valueLen: value ? value.length : 0,
      seq,
      tombstone: value === undefined,
    };
    this.entries.set(hashStr, e);
    if (!prev) this.unsorted.push(key);
    return e;
  }

  value(e: MemEntry): Buffer {
    const start = e.pos + RECORD_HEADER_BYTES + e.key.length;
    return this.slab.subarray(start, start + e.valueLen);
  }

  /**
   * Keys of this memtable in byte order (a snapshot array, never mutated afterwards). New keys
   * are merged lazily, so a listing after N puts costs O(N + existing), then O(log n) per seek.
   */
  sortedKeys(): Buffer[] {
    if (this.unsorted.length > 0) {
      const add = this.unsorted.sort(Buffer.compare);
      this.unsorted = [];
      const old = this.sorted;
      const merged: Buffer[] = new Array(old.length + add.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < old.length && j < add.length) {
        merged[k++] = Buffer.compare(old[i]!, add[j]!) <= 0 ? old[i++]! : add[j++]!;
      }
      while (i < old.length) merged[k++] = old[i++]!;
      while (j < add.length) merged[k++] = add[j++]!;
      this.sorted = merged;
    }
    return this.sorted;
  }

  /** Footer entries: newest record per hash, in file order. */
  footerEntries(): SegEntry[] {
    return [...this.entries.values()].sort((a, b) => a.pos - b.pos);
  }
}

/** First index in `sorted` whose key is > `after` (or >= `from` when after is undefined). */
export function lowerBound(sorted: readonly Buffer[], key: Buffer, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = Buffer.compare(sorted[mid]!, key);
    if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
