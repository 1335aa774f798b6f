// Invariant: the index maps each 128-bit key hash to exactly one node (segment, offset, record
// length, seq) of a flushed, live item; nodes live in typed-array arenas (no per-item JS objects,
// ~60-80 bytes per item) and form one SIEVE list. `find` never touches the visited bit: only
// `touch` does, and only the read path calls it (hazard 5.2-9: iteration must not warm SIEVE).
//
// Layout: an open-addressing table (Int32Array of node ids, linear probing, backward-shift
// deletion, load <= 0.75) over a node arena (hash words, seg, off, len, seq, SIEVE links, flags).

import assert from 'node:assert';

const NONE = -1;
const F_USED = 1;
const F_VISITED = 2;
const MAX_LOAD = 0.75;

export class HashIndex {
  private table: Int32Array;
  private mask: number;
  // node arena
  private cap: number;
  private hw: Uint32Array; // 4 words per node
  private segA: Uint32Array;
  private offA: Uint32Array;
  private lenA: Uint32Array;
  private seqA: Float64Array;
  private toHead: Int32Array; // newer neighbour
  private toTail: Int32Array; // older neighbour (also the free-list link)
  private flags: Uint8Array;
  private freeHead = NONE;
  private highWater = 0;
  private count = 0;
  private head = NONE;
  private tail = NONE;
  private hand = NONE;

  constructor(expectedItems: number) {
    let t = 16;
    while (t * MAX_LOAD < expectedItems) t *= 2;
    this.table = new Int32Array(t).fill(NONE);
    this.mask = t - 1;
    this.cap = Math.max(16, expectedItems);
    this.hw = new Uint32Array(this.cap * 4);
    this.segA = new Uint32Array(this.cap);
    this.offA = new Uint32Array(this.cap);
    this.lenA = new Uint32Array(this.cap);
    this.seqA = new Float64Array(this.cap);
    this.toHead = new Int32Array(this.cap);
    this.toTail = new Int32Array(this.cap);
    this.flags = new Uint8Array(this.cap);
  }

  get size(): number {
    return this.count;
  }

  /** Approximate bytes held by the typed arrays. */
  get memoryBytes(): number {
    return this.table.byteLength + this.cap * (16 + 4 + 4 + 4 + 8 + 4 + 4 + 1);
  }

  find(hash: Buffer): number {
    const w0 = hash.readUInt32LE(0);
    const w1 = hash.readUInt32LE(4);
    const w2 = hash.readUInt32LE(8);
    const w3 = hash.readUInt32LE(12);
    const hw = this.hw;
    let i = w0 & this.mask;
    for (;;) {
      const n = this.table[i]!;
      if (n === NONE) return NONE;
      const b = n * 4;
      if (hw[b] === w0 && hw[b + 1] === w1 && hw[b + 2] === w2 && hw[b + 3] === w3) return n;
      i = (i + 1) & this.mask;
    }
  }

  seg(n: number): number {
    return this.segA[n]!;
  }
  off(n: number): number {
    return this.offA[n]!;
  }
  len(n: number): number {
    return this.lenA[n]!;
  }
  seq(n: number): number {
    return this.seqA[n]!;
  }
  visited(n: number): boolean {
    return (this.flags[n]! & F_VISITED) !== 0;
  }
  hashOf(n: number): Buffer {
    const out = Buffer.allocUnsafe(16);
    const b = n * 4;
    out.writeUInt32LE(this.hw[b]!, 0);
    out.writeUInt32LE(this.hw[b + 1]!, 4);
    out.writeUInt32LE(this.hw[b + 2]!, 8);
    out.writeUInt32LE(this.hw[b + 3]!, 12);
    return out;
  }

  /** Read path only: marks the node visited for SIEVE. */
  touch(n: number): void {
    const f = this.flags[n]!;
    if ((f & F_VISITED) === 0) this.flags[n] = f | F_VISITED;
  }

  /** Inserts or updates in place; returns the node id. */
  upsert(hash: Buffer, seg: number, off: number, len: number, seq: number): number {
    assert(off >= 0 && off <= 0xffffffff && len >= 0 && len <= 0xffffffff, 'offset/len out of u32 range');
    const existing = this.find(hash);
    if (existing !== NONE) {
      this.segA[existing] = seg;
      this.offA[existing] = off;
      this.lenA[existing] = len;
      this.seqA[existing] = seq;
      return existing;
    }
    if (this.count + 1 > this.table.length * MAX_LOAD) this.growTable();
    const n = this.allocNode();
    const b = n * 4;
    this.hw[b] = hash.readUInt32LE(0);
    this.hw[b + 1] = hash.readUInt32LE(4);
    this.hw[b + 2] = hash.readUInt32LE(8);
    this.hw[b + 3] = hash.readUInt32LE(12);
    this.segA[n] = seg;
    this.offA[n] = off;
    this.lenA[n] = len;
    this.seqA[n] = seq;
    this.flags[n] = F_USED;
    // link at head (newest)
    this.toHead[n] = NONE;
    this.toTail[n] = this.head;
    if (this.head !== NONE) this.toHead[this.head] = n;
    this.head = n;
    if (this.tail === NONE) this.tail = n;
    this.placeInTable(n);
    this.count++;
    return n;
  }

  remove(n: number): void {
    assert((this.flags[n]! & F_USED) !== 0, 'remove of a free node');
    this.removeFromTable(n);
    // unlink from SIEVE list; the hand moves on to the newer neighbour
    const h = this.toHead[n]!;
    const t = this.toTail[n]!;
    if (this.hand === n) this.hand = h;
    if (h !== NONE) this.toTail[h] = t;
    else this.head = t;
    if (t !== NONE) this.toHead[t] = h;
    else this.tail = h;
    this.flags[n] = 0;
    this.toTail[n] = this.freeHead;
    this.freeHead = n;
    this.count--;
  }

  /**
   * SIEVE victim selection: from the hand (or the tail), clear visited bits moving towards the
   * head; the first unvisited node is the victim. Returns NONE when empty. Does not remove.
   */
  nextVictim(): number {
    if (this.count === 0) return NONE;
    let n = this.hand !== NONE ? this.hand : this.tail;
    for (;;) {
      const f = this.flags[n]!;
      if ((f & F_VISITED) === 0) break;
      this.flags[n] = f & ~F_VISITED;
      n = this.toHead[n]!;
      if (n === NONE) n = this.tail;
    }
    this.hand = this.toHead[n]!;
    return n;
  }

  /** Visits every live node; the callback must not mutate the index. */
  forEach(fn: (n: number) => void): void {
    for (let n = 0; n < this.highWater; n++) if ((this.flags[n]! & F_USED) !== 0) fn(n);
  }

  /** Node ids in arena order, for callers that mutate while iterating in batches. */
  nodeIds(): Int32Array {
    const out = new Int32Array(this.count);
    let i = 0;
    for (let n = 0; n < this.highWater; n++) if ((this.flags[n]! & F_USED) !== 0) out[i++] = n;
    return out;
  }

  isLive(n: number): boolean {
    return n >= 0 && n < this.highWater && (this.flags[n]! & F_USED) !== 0;
  }

  private allocNode(): number {
    if (this.freeHead !== NONE) {
      const n = this.freeHead;
      this.freeHead = this.toTail[n]!;
      return n;
    }
    if (this.highWater === this.cap) this.growArena();
    return this.highWater++;
  }

  private growArena(): void {
    const cap = Math.ceil(this.cap * 1.5);
    const grow = <T extends Uint32Array | Int32Array | Float64Array | Uint8Array>(a: T, per: number): T => {
      const b = new (a.constructor as new (n: number) => T)(cap * per);
      b.set(a);
      return b;
    };
    this.hw = grow(this.hw, 4);
    this.segA = grow(this.segA, 1);
    this.offA = grow(this.offA, 1);
    this.lenA = grow(this.lenA, 1);
    this.seqA = grow(this.seqA, 1);
    this.toHead = grow(this.toHead, 1);
    this.toTail = grow(this.toTail, 1);
    this.flags = grow(this.flags, 1);
    this.cap = cap;
  }

  private growTable(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(NONE);
    this.mask = this.table.length - 1;
    for (let i = 0; i < old.length; i++) {
      const n = old[i]!;
      if (n !== NONE) this.placeInTable(n);
    }
  }

  private placeInTable(n: number): void {
    let i = this.hw[n * 4]! & this.mask;
    while (this.table[i] !== NONE) i = (i + 1) & this.mask;
    this.table[i] = n;
  }

  private removeFromTable(n: number): void {
    let i = this.hw[n * 4]! & this.mask;
    while (this.table[i] !== n) {
      assert(this.table[i] !== NONE, 'node missing from table');
      i = (i + 1) & this.mask;
    }
    // backward-shift deletion keeps probe chains intact without tombstones
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const m = this.table[j]!;
      if (m === NONE) break;
      const k = this.hw[m * 4]! & this.mask;
      const between = i <= j ? i < k && k <= j : i < k || k <= j;
      if (between) continue;
      this.table[i] = m;
      i = j;
    }
    this.table[i] = NONE;
  }
}

export const NO_NODE = NONE;
