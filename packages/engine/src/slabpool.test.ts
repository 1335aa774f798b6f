import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { SlabPool } from './slabpool.ts';
import { rng, withTempDir } from './testutil.ts';

const KiB = 1024;

describe('SlabPool', () => {
  it('keeps at most maxIdleSlabs, hands each out once, and only whole issued slabs', () => {
    const pool = new SlabPool(64 * KiB, 2);
    const slabs = Array.from({ length: 3 }, () => Buffer.allocUnsafeSlow(64 * KiB));
    for (const s of slabs) pool.adopt(s);
    pool.release(slabs[0]!.subarray(0, 100)); // a view (what the read cache holds) releases its slab
    pool.release(slabs[0]!); // twice: ignored, it is not issued any more
    expect(pool.idleSlabs).toBe(1);
    pool.release(slabs[1]!);
    pool.release(slabs[2]!); // the pool is full: left to the GC
    expect(pool.idleSlabs).toBe(2);
    pool.release(Buffer.allocUnsafeSlow(64 * KiB)); // never adopted
    const other = new SlabPool(64 * KiB, 2);
    const odd = Buffer.allocUnsafeSlow(128 * KiB);
    other.adopt(odd); // an oversize memtable's slab is not recyclable
    other.release(odd);
    expect(other.idleSlabs).toBe(0);
    const a = pool.take();
    const b = pool.take();
    expect(pool.take()).toBeUndefined();
    expect(a?.buffer).not.toBe(b?.buffer);
    expect([a?.buffer, b?.buffer]).toEqual(expect.arrayContaining([slabs[0]!.buffer, slabs[1]!.buffer]));
    expect(a?.length).toBe(64 * KiB);
    expect(pool.reused).toBe(2);
    pool.release(a!); // taken slabs are issued again
    expect(pool.idleSlabs).toBe(1);
  });

  it('keeps a pinned slab out until its last pin ends, then recycles it', async () => {
    const pool = new SlabPool(64 * KiB, 2);
    const slab = Buffer.allocUnsafeSlow(64 * KiB);
    pool.adopt(slab);
    let open1!: () => void;
    let open2!: () => void;
    const p1 = pool.pinWhile(slab.subarray(10, 20), () => new Promise<void>((r) => (open1 = r)));
    const p2 = pool.pinWhile(slab.subarray(30, 40), () => new Promise<void>((r) => (open2 = r)));
    expect(pool.pinWhile(slab.subarray(0, 1), (v) => v.length)).toBe(1); // synchronous: unpinned at once
    pool.release(slab);
    expect(pool.idleSlabs).toBe(0);
    open1();
    await p1;
    expect(pool.idleSlabs).toBe(0); // one view still in use
    open2();
    await p2;
    expect(pool.idleSlabs).toBe(1);
    expect(pool.take()?.buffer).toBe(slab.buffer);
    // a callback that throws or rejects unpins too
    pool.release(slab);
    expect(pool.idleSlabs).toBe(1);
    const again = pool.take()!;
    expect(() =>
      pool.pinWhile(again, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(pool.pinWhile(again, () => Promise.reject(new Error('late')))).rejects.toThrow('late');
    pool.release(again);
    expect(pool.idleSlabs).toBe(1);
  });

  it('close() forgets idle and deferred slabs and ignores later releases', async () => {
    const pool = new SlabPool(64 * KiB, 4);
    const [a, b, c] = [0, 1, 2].map(() => Buffer.allocUnsafeSlow(64 * KiB)) as [Buffer, Buffer, Buffer];
    for (const s of [a, b, c]) pool.adopt(s);
    pool.release(a);
    let open!: () => void;
    const pinned = pool.pinWhile(b, () => new Promise<void>((r) => (open = r)));
    pool.release(b);
    pool.close();
    expect(pool.idleSlabs).toBe(0);
    open();
    await pinned;
    pool.release(c);
    expect(pool.idleSlabs).toBe(0);
    expect(pool.take()).toBeUndefined();
  });
});

/** Many memtables of random values through a small read cache: slabs are evicted and reused. */
async function churn(e: BlobEngine, tag: string, memtables: number, valueBytes: number): Promise<void> {
  const per = Math.ceil((64 * KiB) / valueBytes);
  const puts: Promise<void>[] = [];
  for (let i = 0; i < memtables * per; i++) puts.push(e.put(`${tag}-${i % 40}`, randomBytes(valueBytes)));
  await Promise.all(puts);
  await e.flush();
}

describe.each(['durable', 'cache'] as const)('slab recycling (%s mode)', (durability) => {
  const small = { durability, memtableBytes: 64 * KiB, readCacheBytes: 128 * KiB } as const;

  it('reuses slabs the read cache evicted, within maxIdleSlabs, and close() releases them', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      await churn(e, 'a', 12, 6000);
      const st = e.stats();
      expect(st.flushes).toBeGreaterThanOrEqual(12);
      expect(st.slabsReused).toBeGreaterThan(5);
      expect(st.idleSlabs).toBeGreaterThan(0);
      expect(st.idleSlabs).toBeLessThanOrEqual(2);
      await e.close();
      expect(e.stats().idleSlabs).toBe(0);
    });
  });

  it('reuses flushed slabs the read cache does not admit, and nothing when maxIdleSlabs is 0', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(`${dir}/a`, { ...small, readCacheBytes: 0 });
      await churn(e, 'a', 6, 6000);
      expect(e.stats().slabsReused).toBeGreaterThan(2);
      await e.close();
      const off = await BlobEngine.open(`${dir}/b`, { ...small, maxIdleSlabs: 0 });
      await churn(off, 'b', 6, 6000);
      expect(off.stats().slabsReused).toBe(0);
      expect(off.stats().idleSlabs).toBe(0);
      await off.close();
    });
  });

  it('recycles the empty memtable an oversize value rotates away', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, readCacheBytes: 0 });
      const big = randomBytes(100 * KiB); // larger than a memtable: a segment of its own
      await e.put('big', big);
      // the empty 64 KiB slab went to the pool and came back for the memtable after the big one
      expect(e.stats().slabsReused).toBe(1);
      await e.put('small', Buffer.from('x'));
      await e.flush();
      expect((await e.get('big'))?.equals(big)).toBe(true);
      expect((await e.get('small'))?.toString()).toBe('x');
      await e.close();
    });
  });

  it.each(['memtable', 'read cache'] as const)(
    'a view() callback that awaits sees its bytes unchanged while its slab would be recycled (%s)',
    async (where) => {
      await withTempDir(async (dir) => {
        const e = await BlobEngine.open(dir, small);
        const original = Buffer.alloc(20 * KiB, 0xab);
        original.write('the pinned value', 100);
        await e.put('pinned', original);
        // more than half a slab: the read cache keeps the slab itself, not a tight copy
        await e.put('filler', randomBytes(20 * KiB));
        if (where === 'read cache') {
          await e.flush();
          expect(e.stats().readCacheBytes).toBeGreaterThan(0);
        }
        const hitsBefore = e.stats().readCacheHits;
        const reusedBefore = e.stats().slabsReused;
        const seen = await e.view('pinned', async (v) => {
          const before = Buffer.from(v);
          // Enough memtables through the 2-slab read cache that the pinned value's slab is
          // flushed, evicted and (were it not pinned) recycled and overwritten several times.
          await churn(e, 'x', 10, 7000);
          expect(e.stats().slabsReused - reusedBefore).toBeGreaterThan(4);
          return { before, after: Buffer.from(v) };
        });
        if (where === 'read cache') expect(e.stats().readCacheHits).toBe(hitsBefore + 1);
        expect(seen?.before.equals(original)).toBe(true);
        expect(seen?.after.equals(original)).toBe(true);
        // the pinned slab was recycled after the callback: the value is still right everywhere
        await churn(e, 'y', 6, 7000);
        expect((await e.get('pinned'))?.equals(original)).toBe(true);
        await e.close();
      });
    },
  );

  it('reads after heavy rewriting through a small read cache match a model, byte for byte', async () => {
    await withTempDir(async (dir) => {
      const opts = { ...small, maintenanceEverySegments: 2, compactionWasteRatio: 0.2 };
      let e = await BlobEngine.open(dir, opts);
      const model = new Map<string, Buffer>();
      const rand = rng(20261125);
      const keys = Array.from({ length: 120 }, (_, i) => `key-${i}`);
      const check = async (key: string): Promise<void> => {
        const want = model.get(key);
        const got = await e.get(key);
        if (want === undefined) {
          expect(got).toBeUndefined();
          return;
        }
        expect(got?.equals(want), key).toBe(true);
        const viewed = await e.view(key, async (v) => {
          await new Promise<void>((r) => setImmediate(r)); // writes of this round run meanwhile
          return Buffer.from(v);
        });
        expect(viewed?.equals(want), key).toBe(true);
        const dst = Buffer.alloc(want.length + 64 + key.length);
        expect((await e.getInto(key, dst))?.equals(want), key).toBe(true);
      };
      for (let round = 0; round < 40; round++) {
        // This round writes a disjoint set of keys while the others are read concurrently.
        const writing = new Set(keys.filter(() => rand(3) === 0));
        const ops: Promise<unknown>[] = [];
        for (const key of writing) {
          if (rand(8) === 0) {
            model.delete(key);
            ops.push(e.delete(key));
          } else {
            const v = randomBytes(1 + rand(12 * KiB));
            model.set(key, v);
            ops.push(e.put(key, v));
          }
        }
        for (const key of keys) if (!writing.has(key)) ops.push(check(key));
        await Promise.all(ops);
        if (round % 10 === 9) await e.runMaintenance();
      }
      expect(e.stats().slabsReused).toBeGreaterThan(10);
      for (const key of keys) await check(key);
      await e.close();
      e = await BlobEngine.open(dir, opts);
      for (const key of keys) await check(key);
      await e.close();
    });
  });
});
