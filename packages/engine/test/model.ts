// Deterministic workload model shared by the crash child, the crash parent and the corruption test.
//
// Invariant: the bytes of a value are a pure function of (key, version), so a process that only
// knows which (key, version) pairs were issued can check every byte it reads back, and a value
// read after a crash identifies (or refutes) the version it claims to be.

/** 32-bit FNV-1a over a string; seeds the value generator. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** xorshift32 step; never returns 0 for a non-zero state. */
export function nextRandom(state: number): number {
  let x = state >>> 0 || 0x9e3779b9;
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** A small seeded PRNG for deciding workloads reproducibly. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = nextRandom(seed >>> 0 || 1);
  }
  u32(): number {
    this.state = nextRandom(this.state);
    return this.state;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
}

/**
 * Value size for (key, version): mostly small, some medium, a few larger than a typical
 * memtable so the engine's large-record path runs too. `maxBytes` caps it.
 */
export function valueSize(key: string, version: number, maxBytes: number): number {
  const r = new Rng(hashString(key) ^ Math.imul(version, 0x9e3779b1));
  const bucket = r.int(100);
  let size: number;
  if (bucket < 5)
    size = r.int(17); // 0..16 bytes, including empty values
  else if (bucket < 55) size = 17 + r.int(2048);
  else if (bucket < 85) size = 2048 + r.int(30 * 1024);
  else if (bucket < 97) size = 32 * 1024 + r.int(224 * 1024);
  else if (bucket < 99) size = 256 * 1024 + r.int(1280 * 1024);
  else size = 2 * 1024 * 1024 + r.int(1024 * 1024); // larger than a 2 MiB memtable: own segment
  return Math.min(size, maxBytes);
}

/** The exact bytes of (key, version) with the given size. */
export function valueBytes(key: string, version: number, size: number): Buffer {
  const words = Math.ceil(size / 4);
  const out = Buffer.allocUnsafe(words * 4);
  const view = new Uint32Array(out.buffer, out.byteOffset, words);
  let s = (hashString(key) ^ Math.imul(version + 1, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < words; i++) {
    s = nextRandom(s);
    view[i] = s;
  }
  return out.subarray(0, size);
}

export function makeValue(key: string, version: number, maxBytes: number): Buffer {
  return valueBytes(key, version, valueSize(key, version, maxBytes));
}

/**
 * Key `i` of a key space. Some keys carry multi-byte UTF-8 so that byte order (memcmp) differs
 * from UTF-16 code-unit order, which a careless implementation would use.
 */
export function keyName(i: number): string {
  const groups = ['a/', 'b/', 'z\u00e9/', '\u4e2d/', '\u{1f600}/', 'a/b/'];
  const g = groups[i % groups.length]!;
  return `${g}k${String(i).padStart(5, '0')}`;
}

/** memcmp order of the UTF-8 encodings, which is the engine's documented key order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
