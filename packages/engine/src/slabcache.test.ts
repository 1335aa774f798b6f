import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { SlabCache } from './slabcache.ts';
import { withTempDir } from './testutil.ts';

describe('SlabCache', () => {
  it('keeps the newest slabs within maxBytes, oldest out first', () => {
    const c = new SlabCache(3000);
    for (let id = 1; id <= 4; id++) c.add(id, Buffer.allocUnsafeSlow(1000).fill(id));
    expect(c.get(1)).toBeUndefined();
    expect(c.get(2)?.[0]).toBe(2);
    expect(c.get(4)?.[0]).toBe(4);
    expect(c.bytes).toBe(3000);
    c.drop(3);
    expect(c.get(3)).toBeUndefined();
    expect(c.bytes).toBe(2000);
    c.clear();
    expect(c.bytes).toBe(0);
  });

  it('counts whole allocations and keeps a tight copy of a mostly empty slab', () => {
    const c = new SlabCache(1 << 20);
    const big = Buffer.allocUnsafeSlow(64 * 1024).fill(7);
    c.add(1, big.subarray(0, 100));
    expect(c.bytes).toBe(100);
    big.fill(0); // the memtable's buffer is not aliased
    expect(c.get(1)?.[99]).toBe(7);
    c.add(2, big.subarray(0, 40 * 1024));
    expect(c.bytes).toBe(100 + 64 * 1024);
  });

  it('holds nothing when off or when one slab exceeds the budget', () => {
    const off = new SlabCache(0);
    off.add(1, Buffer.alloc(10));
    expect(off.get(1)).toBeUndefined();
    const tiny = new SlabCache(5);
    tiny.add(1, Buffer.alloc(10));
    expect(tiny.get(1)).toBeUndefined();
    expect(tiny.bytes).toBe(0);
  });
});

describe.each(['durable', 'cache'] as const)('read cache of flushed slabs (%s mode)', (durability) => {
  it('serves flushed values from memory, exact bytes, and copies for get()', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024 });
      const values = Array.from({ length: 40 }, (_, i) => Buffer.alloc(5000 + i, i + 1));
      for (let i = 0; i < values.length; i++) await e.put(`k${i}`, values[i]!);
      await e.flush();
      const before = e.stats().readCacheHits;
      for (let i = 0; i < values.length; i++) {
        const v = await e.get(`k${i}`);
        expect(v?.equals(values[i]!)).toBe(true);
        v!.fill(0); // a caller scribbling on its copy changes nothing inside the engine
      }
      for (let i = 0; i < values.length; i++) expect((await e.get(`k${i}`))?.equals(values[i]!)).toBe(true);
      expect(e.stats().readCacheHits - before).toBe(2 * values.length);
      expect(e.stats().readCacheBytes).toBeGreaterThan(0);
      // an overwrite and a delete are never answered from the older slab
      await e.put('k1', Buffer.from('new'));
      await e.delete('k2');
      await e.flush();
      expect((await e.get('k1'))?.toString()).toBe('new');
      expect(await e.get('k2')).toBeUndefined();
      await e.close();
    });
  });

  it('readCacheBytes: 0 reads every flushed value from its segment', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024, readCacheBytes: 0 });
      for (let i = 0; i < 20; i++) await e.put(`k${i}`, Buffer.alloc(6000, i));
      await e.flush();
      for (let i = 0; i < 20; i++) expect((await e.get(`k${i}`))?.equals(Buffer.alloc(6000, i))).toBe(true);
      expect(e.stats().readCacheHits).toBe(0);
      expect(e.stats().readCacheBytes).toBe(0);
      await e.close();
    });
  });
});

describe('read path and the caller key buffer', () => {
  it('a caller reusing its key buffer during a segment read changes nothing', async () => {
    await withTempDir(async (dir) => {
      // every read goes to the segment file through the thread pool
      const e = await BlobEngine.open(dir, {
        durability: 'durable',
        memtableBytes: 64 * 1024,
        readCacheBytes: 0,
        maxInlineValueBytes: 0,
        syncReadMaxBytes: 0,
      });
      await e.put('key-one', Buffer.alloc(3000, 1));
      await e.flush();
      const key = Buffer.from('key-one');
      const pending = e.get(key);
      key.fill(0x7a); // the caller reuses its buffer while the read is in flight
      expect((await pending)?.equals(Buffer.alloc(3000, 1))).toBe(true);
      const asU8 = new Uint8Array(Buffer.from('key-one'));
      const viewed = e.view(asU8, (v) => v.length);
      asU8.fill(0);
      expect(await viewed).toBe(3000);
      expect(e.stats().corruptReads).toBe(0);
      expect(e.stats().bloomGhosts).toBe(0);
      expect((await e.get('key-one'))?.length).toBe(3000);
      await e.close();
    });
  });
});
