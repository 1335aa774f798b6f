import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { SpareSlab } from './spareslab.ts';
import { withTempDir } from './testutil.ts';

describe('SpareSlab', () => {
  it('never hands out a spare before its prefault read completed, and hands it out once', async () => {
    const pool = new SpareSlab(1 << 20, true);
    pool.prepare();
    // the read is in flight on the thread pool: taking now must allocate, not share the spare
    const early = pool.take(1 << 20);
    expect(pool.coldTakes).toBe(1);
    await pool.settled();
    const warm = pool.take(1 << 20);
    expect(pool.warmTakes).toBe(1);
    expect(warm).not.toBe(early);
    expect(warm.length).toBe(1 << 20);
    expect(warm.every((b) => b === 0)).toBe(true); // filled by the /dev/zero read, nothing else
    const again = pool.take(1 << 20); // the spare is gone: a fresh allocation
    expect(again).not.toBe(warm);
    expect(pool.warmTakes).toBe(1);
    await pool.close();
  });

  it('hands out only buffers of its slab size, and nothing after close', async () => {
    const pool = new SpareSlab(1 << 20, true);
    pool.prepare();
    await pool.settled();
    expect(pool.take(2 << 20).length).toBe(2 << 20); // an oversize memtable: allocated
    expect(pool.warmTakes).toBe(0);
    await pool.close();
    pool.prepare(); // ignored once closed
    expect(pool.take(1 << 20).length).toBe(1 << 20);
    expect(pool.warmTakes).toBe(0);
  });

  it('does nothing when disabled', async () => {
    const pool = new SpareSlab(1 << 20, false);
    pool.prepare();
    await pool.settled();
    pool.take(1 << 20);
    expect(pool.warmTakes).toBe(0);
    await pool.close();
  });
});

describe('memtables on prefaulted slabs', () => {
  it.each(['cache', 'durable'] as const)(
    '%s mode: every value reads back across many rotations and a reopen',
    async (durability) => {
      await withTempDir(async (dir) => {
        const opts = { durability, memtableBytes: 1 << 20 };
        let e = await BlobEngine.open(dir, opts);
        const value = (i: number): Buffer => Buffer.alloc(40_000 + i, i % 251);
        // ~8 MiB through 1 MiB memtables, in bursts separated by I/O turns so spares get ready
        for (let burst = 0; burst < 8; burst++) {
          const ops: Promise<void>[] = [];
          for (let i = burst * 25; i < (burst + 1) * 25; i++) ops.push(e.put(`k${i}`, value(i)));
          await Promise.all(ops);
          await new Promise((r) => setTimeout(r, 5));
        }
        const check = async (): Promise<void> => {
          for (let i = 0; i < 200; i++) expect((await e.get(`k${i}`))?.equals(value(i))).toBe(true);
        };
        await check();
        await e.close();
        e = await BlobEngine.open(dir, opts);
        await check();
        await e.close();
      });
    },
  );
});
