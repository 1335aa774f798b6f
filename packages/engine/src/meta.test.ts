import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { decodeMeta, encodeFooter, encodeTombstoneBatch } from './meta.ts';
import type { SegEntry } from './segfile.ts';

await initKeyHash();

function entry(key: string, pos: number, seq: number, valueLen = 10, tombstone = false): SegEntry {
  const k = Buffer.from(key);
  return { key: k, hash: hashKey(k), pos, len: 42 + k.length + valueLen, valueLen, seq, tombstone };
}

describe('.meta footer and tombstone batches', () => {
  it('round-trips footer entries with keys', () => {
    const entries = [entry('a', 32, 5), entry('bb', 100, 9, 0, true), entry('ccc', 200, 7, 1 << 20)];
    const buf = encodeFooter(42, entries);
    const m = decodeMeta(buf, 2000);
    expect(m?.footer.segId).toBe(42);
    expect(m?.footer.minSeq).toBe(5);
    expect(m?.footer.maxSeq).toBe(9);
    expect(m?.footer.entries).toEqual(entries);
    expect(m?.dead.size).toBe(0);
    expect(m?.validBytes).toBe(buf.length);
  });

  it('applies appended tombstone batches and ignores a torn one', () => {
    const a = entry('a', 32, 1);
    const b = entry('b', 80, 2);
    const footer = encodeFooter(1, [a, b]);
    const t1 = encodeTombstoneBatch([a.hash]);
    const t2 = encodeTombstoneBatch([b.hash]);
    const full = Buffer.concat([footer, t1, t2]);
    expect(decodeMeta(full, 100)?.dead.size).toBe(2);
    const torn = full.subarray(0, full.length - 3);
    const m = decodeMeta(torn, 100);
    expect([...(m?.dead ?? [])]).toEqual([a.hash.toString('latin1')]);
    expect(m?.validBytes).toBe(footer.length + t1.length);
    // a flipped byte inside a batch invalidates that batch only
    const flipped = Buffer.from(full);
    flipped[footer.length + t1.length + 6] = flipped[footer.length + t1.length + 6]! ^ 0xff;
    expect(decodeMeta(flipped, 100)?.dead.size).toBe(1);
  });

  it('rejects corrupt or truncated footers', () => {
    const buf = encodeFooter(3, [entry('x', 32, 1)]);
    for (const cut of [0, 10, 47, buf.length - 1])
      expect(decodeMeta(buf.subarray(0, cut), 100)).toBeUndefined();
    for (const pos of [0, 8, 40, 50, 70, buf.length - 5]) {
      const c = Buffer.from(buf);
      c[pos] = c[pos]! ^ 0x5a;
      expect(decodeMeta(c, 100)).toBeUndefined();
    }
    // an absurd entry count must not loop or allocate
    const huge = Buffer.from(buf);
    huge.writeUInt32LE(0xffffffff, 40);
    expect(decodeMeta(huge, 100)).toBeUndefined();
  });
});
