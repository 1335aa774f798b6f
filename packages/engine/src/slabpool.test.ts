import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { SlabPool } from './slabpool.ts';
import { withTempDir } from './testutil.ts';

/** Waits (bounded) until the worker handed a prefaulted spare back. */
async function spareReady(pool: SlabPool): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    if ((pool as unknown as { spare: unknown }).spare !== undefined) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

describe('SlabPool', () => {
  it('hands out a prefaulted spare of the slab size, each slab owned by one taker', async () => {
    const pool = new SlabPool(1 << 20, true);
    try {
      const first = pool.take(1 << 20); // cold, and starts preparing the spare
      expect(first.length).toBe(1 << 20);
      expect(pool.coldTakes).toBe(1);
      expect(await spareReady(pool)).toBe(true);
      const warm = pool.take(1 << 20);
      expect(pool.warmTakes).toBe(1);
      expect(warm.length).toBe(1 << 20);
      // no aliasing between slabs: writing one leaves the other intact
      first.fill(1);
      warm.fill(2);
      expect(first[12345]).toBe(1);
      expect(warm[12345]).toBe(2);
      // the next spare is different memory again
      expect(await spareReady(pool)).toBe(true);
      const third = pool.take(1 << 20);
      expect(third[12345]).toBe(0); // fresh, zero-filled, not a recycled slab
      expect(warm[12345]).toBe(2);
      // other sizes (an oversize value's own memtable) are allocated directly
      const odd = pool.take(4096);
      expect(odd.length).toBe(4096);
      expect(pool.coldTakes).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('disabled or closed: plain allocations, no worker', async () => {
    const off = new SlabPool(1 << 20, false);
    off.take(1 << 20);
    off.take(1 << 20);
    expect(off.warmTakes).toBe(0);
    expect((off as unknown as { worker: unknown }).worker).toBeUndefined();
    const pool = new SlabPool(1 << 20, true);
    pool.take(1 << 20);
    await pool.close();
    expect(pool.take(1 << 20).length).toBe(1 << 20);
    expect(pool.warmTakes).toBe(0);
    expect((pool as unknown as { worker: unknown }).worker).toBeUndefined();
  });

  it('an engine with prefaulted memtables stores and serves values across rotations and reopen', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'durable' as const, memtableBytes: 1 << 20 };
      let e = await BlobEngine.open(dir, opts);
      const v = (i: number): Buffer => Buffer.alloc(100 * 1024, i);
      // 40 x 100 KiB: several rotations through prefaulted slabs, puts all in flight at once
      await Promise.all(Array.from({ length: 40 }, (_, i) => e.put(`k${i}`, v(i))));
      for (let i = 0; i < 40; i++) expect((await e.get(`k${i}`))?.equals(v(i))).toBe(true);
      await e.close();
      e = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 40; i++) expect((await e.get(`k${i}`))?.equals(v(i))).toBe(true);
      await e.close();
    });
  });
});
