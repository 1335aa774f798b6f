import { describe, expect, it } from 'vitest';
import { HashIndex, NO_NODE } from './hashindex.ts';
import { hashKey, initKeyHash } from './keyhash.ts';

await initKeyHash();
const h = (i: number): Buffer => hashKey(Buffer.from(`key-${i}`));

describe('HashIndex (typed arrays + SIEVE)', () => {
  it('inserts, finds, updates and removes across growth', () => {
    const idx = new HashIndex(16);
    for (let i = 0; i < 5000; i++) idx.upsert(h(i), i % 7, i * 10, 100 + i, i);
    expect(idx.size).toBe(5000);
    for (let i = 0; i < 5000; i++) {
      const n = idx.find(h(i));
      expect(n).not.toBe(NO_NODE);
      expect([idx.seg(n), idx.off(n), idx.len(n), idx.seq(n)]).toEqual([i % 7, i * 10, 100 + i, i]);
      expect(idx.hashOf(n).equals(h(i))).toBe(true);
    }
    idx.upsert(h(3), 99, 1, 2, 3000);
    expect(idx.seg(idx.find(h(3)))).toBe(99);
    expect(idx.size).toBe(5000);
    // remove every other key; the rest must stay reachable (backward-shift deletion)
    for (let i = 0; i < 5000; i += 2) idx.remove(idx.find(h(i)));
    expect(idx.size).toBe(2500);
    for (let i = 0; i < 5000; i++) expect(idx.find(h(i)) === NO_NODE).toBe(i % 2 === 0);
    // freed nodes are reused
    for (let i = 0; i < 5000; i += 2) idx.upsert(h(i), 1, 1, 1, 1);
    expect(idx.size).toBe(5000);
  });

  it('SIEVE: unvisited nodes go first, visited ones get a second chance', () => {
    const idx = new HashIndex(16);
    for (let i = 0; i < 10; i++) idx.upsert(h(i), 0, i, 1, i);
    for (const i of [0, 1, 2]) idx.touch(idx.find(h(i)));
    const victims: number[] = [];
    for (let k = 0; k < 7; k++) {
      const n = idx.nextVictim();
      victims.push(idx.off(n));
      idx.remove(n);
    }
    expect(victims).toEqual([3, 4, 5, 6, 7, 8, 9]);
    // the visited bits were cleared on the way: now 0,1,2 are evicted in order
    const rest: number[] = [];
    for (let k = 0; k < 3; k++) {
      const n = idx.nextVictim();
      rest.push(idx.off(n));
      idx.remove(n);
    }
    expect(rest.sort()).toEqual([0, 1, 2]);
    expect(idx.nextVictim()).toBe(NO_NODE);
  });

  it('find() never sets the visited bit (hazard 5.2-9)', () => {
    const idx = new HashIndex(16);
    idx.upsert(h(1), 0, 0, 1, 1);
    const n = idx.find(h(1));
    expect(idx.visited(n)).toBe(false);
    idx.touch(n);
    expect(idx.visited(n)).toBe(true);
  });

  it('stays under 100 bytes per item at 1M items', () => {
    const idx = new HashIndex(1_000_000);
    const b = Buffer.alloc(16);
    for (let i = 0; i < 1_000_000; i++) {
      b.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, 0);
      b.writeUInt32LE(i, 4);
      idx.upsert(b, 0, 0, 0, i);
    }
    expect(idx.size).toBe(1_000_000);
    expect(idx.memoryBytes / idx.size).toBeLessThanOrEqual(100);
  });
});
