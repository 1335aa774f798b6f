import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { prefixEnd } from './listing.ts';
import { collect, withTempDir } from './testutil.ts';

const names = (rows: { key: Buffer }[]): string[] => rows.map((r) => r.key.toString());

describe('prefixEnd', () => {
  it('increments the last byte below 0xff and has no bound for all-0xff', () => {
    expect(prefixEnd(Buffer.from([1, 2]))).toEqual(Buffer.from([1, 3]));
    expect(prefixEnd(Buffer.from([1, 0xff]))).toEqual(Buffer.from([2]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toBeUndefined();
  });
});

describe('keys() merge of LMDB and memtables', () => {
  it('pages through flushed, sealed and active memtables in byte order', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * 1024, maxInflightMemtables: 4 });
      const all: string[] = [];
      for (let i = 0; i < 300; i++) {
        const k = `p/${String((i * 7919) % 1000).padStart(4, '0')}`;
        all.push(k);
        await e.put(k, Buffer.alloc(400, i));
        if (i === 100) await e.flush();
      }
      all.sort();
      expect(e.stats().memtables).toBeGreaterThan(0); // part of the data is unflushed
      const pages: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = names(
          await collect(e.keys({ prefix: 'p/', limit: 37, ...(after ? { startAfter: after } : {}) })),
        );
        pages.push(...page);
        if (page.length < 37) break;
        after = page[page.length - 1];
      }
      expect(pages).toEqual(all);
      await e.close();
    });
  });

  it('orders by raw UTF-8 bytes, handles startAfter before the prefix, limit 0, 0xff prefixes', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * 1024 });
      for (const k of ['a', 'b', 'z\u00e9', 'z\uffff', 'zz', '\u4e2d']) await e.put(k, Buffer.from(k));
      await e.put(Buffer.from([0xff, 0xff, 1]), Buffer.from('x'));
      await e.flush();
      await e.put('ab', Buffer.from('ab'));
      expect(names(await collect(e.keys({ prefix: 'z' })))).toEqual(['zz', 'z\u00e9', 'z\uffff']);
      expect(names(await collect(e.keys({ prefix: 'a', startAfter: '0' })))).toEqual(['a', 'ab']);
      expect(await collect(e.keys({ limit: 0 }))).toEqual([]);
      const ff = await collect(e.keys({ prefix: Buffer.from([0xff, 0xff]) }));
      expect(ff.map((r) => [...r.key])).toEqual([[0xff, 0xff, 1]]);
      expect(names(await collect(e.keys({ startAfter: 'zz', limit: 1 })))).toEqual(['z\u00e9']);
      await e.close();
    });
  });

  it('a running iteration sees writes acknowledged before each step', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * 1024 });
      for (const k of ['k1', 'k3', 'k5']) await e.put(k, Buffer.from(k));
      await e.flush();
      const seen: string[] = [];
      for await (const { key } of e.keys()) {
        seen.push(key.toString());
        if (key.toString() === 'k1') {
          await e.put('k2', Buffer.from('new'));
          await e.delete('k3');
          await e.flush(); // moves k2 from the memtable into LMDB mid-iteration
          await e.put('k4', Buffer.from('mem'));
        }
      }
      expect(seen).toEqual(['k1', 'k2', 'k4', 'k5']);
      await e.close();
    });
  });

  it('withValues returns small values from memtables and LMDB, sizes for large ones', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * 1024, maxInlineValueBytes: 8 });
      await e.put('big', Buffer.alloc(9, 1));
      await e.put('flushed', Buffer.from('tiny'));
      await e.flush();
      await e.put('mem', Buffer.from('m'));
      const rows = await collect(e.keys({ withValues: true }));
      expect(rows.map((r) => [r.key.toString(), r.size, r.value?.toString()])).toEqual([
        ['big', 9, undefined],
        ['flushed', 4, 'tiny'],
        ['mem', 1, 'm'],
      ]);
      const noValues = await collect(e.keys());
      expect(noValues.every((r) => r.value === undefined)).toBe(true);
      await e.close();
    });
  });
});

describe('keysSync()', () => {
  it('lists exactly what keys() lists, per step, with writes between steps', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 64 * 1024 });
      for (let i = 0; i < 200; i++) await e.put(`s/${String(i).padStart(3, '0')}`, Buffer.alloc(300, i));
      await e.flush();
      for (let i = 200; i < 260; i++) await e.put(`s/${String(i).padStart(3, '0')}`, Buffer.alloc(10, i));
      await e.delete('s/005');
      await e.delete('s/230');
      const opts = { prefix: 's/', startAfter: 's/001', withValues: true };
      const viaAsync = await collect(e.keys(opts));
      const viaSync = [...e.keysSync(opts)];
      expect(names(viaSync)).toEqual(names(viaAsync));
      expect(viaSync.map((r) => r.value?.length)).toEqual(viaAsync.map((r) => r.value?.length));
      expect(names(viaSync)).not.toContain('s/005');
      expect(names(viaSync)).not.toContain('s/230');
      expect(viaSync.length).toBe(256);
      // a step after an awaited write sees it (and a delete hides a key not reached yet)
      const seen: string[] = [];
      for (const r of e.keysSync({ prefix: 's/', limit: 300 })) {
        seen.push(r.key.toString());
        if (seen.length === 10) {
          await e.put('s/100x', Buffer.from('new'));
          await e.delete('s/150');
          await e.flush();
        }
      }
      expect(seen).toContain('s/100x');
      expect(seen).not.toContain('s/150');
      expect(seen.length).toBe(258);
      await e.close();
    });
  });
});

describe('listing while eviction victims are queued', () => {
  it('never lists an evicted key (their LMDB deletes are issued before the rows are trusted)', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, {
        durability: 'cache',
        maxBytes: 2 * 1024 * 1024,
        memtableBytes: 64 * 1024,
      });
      for (let round = 0; round < 3; round++) {
        // no await between the last put and the listing: victims of these puts are still queued
        const puts: Promise<void>[] = [];
        for (let i = 0; i < 400; i++)
          puts.push(e.put(`v/${round}/${String(i).padStart(4, '0')}`, Buffer.alloc(9000, i)));
        await Promise.all(puts);
        const listed = names([...e.keysSync({ prefix: 'v/' })]);
        const listedAsync = names(await collect(e.keys({ prefix: 'v/' })));
        expect(listedAsync).toEqual(listed);
        expect(e.stats().evictions).toBeGreaterThan(0);
        const present: string[] = [];
        for (let r = 0; r <= round; r++) {
          for (let i = 0; i < 400; i++) {
            const k = `v/${r}/${String(i).padStart(4, '0')}`;
            if ((await e.get(k)) !== undefined) present.push(k);
          }
        }
        expect(listed).toEqual(present);
        expect(listed.length).toBe(e.stats().items);
      }
      await e.close();
    });
  });
});
