// The benchmark workload: the same keys (inserted and read in random order) and the same value
// bytes are handed to the engine and to every baseline, so ratios compare like with like.
//
// Invariant: values are views into one random pool; value i of a case is always the same bytes,
// and no two consecutive values share an offset (so no system can win by deduplication).

import { randomFillSync } from 'node:crypto';

export interface Workload {
  label: string;
  valueBytes: number;
  keys: Buffer[];
  /** Insertion order (a permutation of key indexes). */
  putOrder: Uint32Array;
  /** Read order (another permutation). */
  getOrder: Uint32Array;
  value(i: number): Buffer;
  totalBytes: number;
}

const POOL_BYTES = 4 * 1024 * 1024;
let pool: Buffer | undefined;

function valuePool(): Buffer {
  if (pool === undefined) {
    pool = Buffer.allocUnsafeSlow(POOL_BYTES + 1024 * 1024 + 4096);
    randomFillSync(pool);
  }
  return pool;
}

/** Fisher-Yates with a seeded xorshift so runs are comparable. */
export function permutation(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

export function makeWorkload(label: string, valueBytes: number, count: number, seed: number): Workload {
  const p = valuePool();
  const keys: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    // Hex of a scrambled index: keys look like object names, unsorted relative to put order.
    const scrambled = (Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0');
    keys.push(Buffer.from(`bench/${label}/${scrambled}-${i}`, 'utf8'));
  }
  const span = POOL_BYTES + 1024 * 1024 - valueBytes;
  return {
    label,
    valueBytes,
    keys,
    putOrder: permutation(count, seed),
    getOrder: permutation(count, seed ^ 0x5bd1e995),
    value(i: number): Buffer {
      const off = (Math.imul(i, 7919 * 8) >>> 0) % Math.max(1, span);
      return p.subarray(off, off + valueBytes);
    },
    totalBytes: valueBytes * count,
  };
}
