// One regression test per hazard of design section 5.2 (plus 5.1 items the port could break).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { EngineDegradedError, WriteFailedError } from './errors.ts';
import { hashKey, initKeyHash } from './keyhash.ts';
import { Memtable } from './memtable.ts';
import { collect, runAndCrash, withTempDir } from './testutil.ts';

await initKeyHash();
const small = { memtableBytes: 64 * 1024 };

async function segFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, 'segments'))) {
    for (const f of await readdir(join(dir, 'segments', shard))) out.push(join(dir, 'segments', shard, f));
  }
  return out.sort();
}

describe('hazard 5.2-1: write failures are reported, never swallowed', () => {
  it('a WAL failure rejects the put, degrades the engine, and reads keep working', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      await e.put('before', Buffer.from('ok'));
      await e.flush();
      await rm(join(dir, 'wal'), { recursive: true });
      await writeFile(join(dir, 'wal'), 'not a directory');
      await expect(e.put('after', Buffer.from('x'))).rejects.toBeInstanceOf(WriteFailedError);
      expect(e.degraded).toBe(true);
      expect(e.stats().degraded).toBe(true);
      await expect(e.put('more', Buffer.from('y'))).rejects.toBeInstanceOf(EngineDegradedError);
      await expect(e.delete('before')).rejects.toBeInstanceOf(EngineDegradedError);
      expect((await e.get('before'))?.toString()).toBe('ok');
      await e.close();
    });
  });

  it('a flush failure (cache mode) degrades: writes reject, unflushed data stays readable', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability: 'cache', ...small });
      await e.put('k', Buffer.from('v'));
      await rm(join(dir, 'segments', '0000'), { recursive: true });
      await writeFile(join(dir, 'segments', '0000'), 'blocked');
      await expect(e.flush()).rejects.toBeInstanceOf(EngineDegradedError);
      expect((await e.get('k'))?.toString()).toBe('v');
      expect((await collect(e.keys())).map((x) => x.key.toString())).toEqual(['k']);
      await expect(e.put('k2', Buffer.from('v'))).rejects.toBeInstanceOf(EngineDegradedError);
      await e.close();
    });
  });
});

describe.each(['durable', 'cache'] as const)('hazard 5.2-2: deleting an unflushed key (%s)', (durability) => {
  it('masks the value at once and after flush and reopen', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small });
      await e.put('k', Buffer.from('v'));
      expect(await e.delete('k')).toBe(true);
      expect(await e.get('k')).toBeUndefined();
      expect(await collect(e.keys())).toEqual([]);
      await e.flush();
      expect(await e.get('k')).toBeUndefined();
      await e.close();
      const f = await BlobEngine.open(dir, { durability, ...small });
      expect(await f.get('k')).toBeUndefined();
      expect(f.stats().items).toBe(0);
      await f.close();
    });
  });
});

describe('hazard 5.2-3: flushes commit in memtable order', () => {
  it('a key overwritten across many memtables reads its newest version, also after a crash', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, maxInflightMemtables: 2 });
      const writes: Promise<void>[] = [];
      for (let v = 0; v < 200; v++) {
        writes.push(e.put('hot', Buffer.from(`v${v}`)));
        writes.push(e.put(`fill${v}`, Buffer.alloc(2000, v)));
      }
      await Promise.all(writes);
      expect((await e.get('hot'))?.toString()).toBe('v199');
      expect(e.stats().flushes).toBeGreaterThan(3);
      await e.close();
      const ops: string[][] = [];
      for (let v = 0; v < 150; v++) ops.push(['put', 'hot', `c${v}`], ['put', `f${v}`, 'x'.repeat(3000)]);
      await runAndCrash(dir, { ...small, maxInflightMemtables: 2 }, ops);
      const f = await BlobEngine.open(dir, small);
      expect((await f.get('hot'))?.toString()).toBe('c149');
      await f.close();
    });
  });
});

describe('hazard 5.2-4: recovery resolves duplicates by highest sequence, not file order', () => {
  it('a newer version in a lower-numbered segment wins (9.seg vs 10.seg)', async () => {
    await withTempDir(async (dir) => {
      await (await BlobEngine.open(dir, { ...small, shards: 1 })).close();
      const key = Buffer.from('dup');
      const h = hashKey(key);
      const seg = (id: number, seq: number, value: string): Buffer => {
        const mt = new Memtable(id, 4096);
        mt.append(seq, key, h, h.toString('latin1'), Buffer.from(value));
        return Buffer.from(mt.slab.subarray(0, mt.used));
      };
      await writeFile(join(dir, 'segments', '0000', '0000000009.seg'), seg(9, 5000, 'newest'));
      await writeFile(join(dir, 'segments', '0000', '0000000010.seg'), seg(10, 100, 'older'));
      await writeFile(join(dir, 'segments', '0000', '0000000011.seg'), seg(11, 99, 'oldest'));
      const e = await BlobEngine.open(dir, small);
      expect((await e.get('dup'))?.toString()).toBe('newest');
      await e.put('dup', Buffer.from('after'));
      await e.close();
      const f = await BlobEngine.open(dir, small);
      expect((await f.get('dup'))?.toString()).toBe('after'); // sequence continues above 5000
      await f.close();
    });
  });
});

describe('hazard 5.2-5: tombstones are durable once a delete resolves', () => {
  it('durable mode: delete of a flushed and of an unflushed key survives SIGKILL', async () => {
    await withTempDir(async (dir) => {
      await runAndCrash(dir, small, [
        ['put', 'flushed', 'a'],
        ['put', 'kept', 'k'],
        ['flush'],
        ['put', 'unflushed', 'b'],
        ['del', 'flushed'],
        ['del', 'unflushed'],
      ]);
      const e = await BlobEngine.open(dir, small);
      expect(await e.get('flushed')).toBeUndefined();
      expect(await e.get('unflushed')).toBeUndefined();
      expect((await e.get('kept'))?.toString()).toBe('k');
      expect((await collect(e.keys())).map((x) => x.key.toString())).toEqual(['kept']);
      await e.close();
    });
  });

  it('a delete answered "not there" from a pending tombstone waits for that tombstone to be durable', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      await e.put('k', Buffer.from('v'));
      await e.flush();
      const before = e.stats().walSyncs;
      const first = e.delete('k'); // appends a tombstone, group commit pending
      const second = e.delete('k'); // sees the tombstone: "not there"
      expect(await second).toBe(false);
      expect(e.stats().walSyncs).toBeGreaterThan(before); // ...but only acknowledged after the sync
      expect(await first).toBe(true);
      await e.close();
    });
  });

  it('cache mode: delete of flushed data survives SIGKILL before the next flush', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'cache' as const, ...small };
      await runAndCrash(dir, opts, [['put', 'x', '1'], ['put', 'y', '2'], ['flush'], ['del', 'x']]);
      const e = await BlobEngine.open(dir, opts);
      expect(await e.get('x')).toBeUndefined();
      expect((await e.get('y'))?.toString()).toBe('2');
      await e.close();
    });
  });
});

describe('hazard 5.2-6: the shard count is persisted', () => {
  it('reopening with other sizing options keeps reading the same paths', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, shards: 4 });
      for (let i = 0; i < 50; i++) await e.put(`k${i}`, Buffer.alloc(3000, i));
      await e.close();
      const marker = JSON.parse(await readFile(join(dir, 'blobcache.json'), 'utf8')) as { shards: number };
      expect(marker.shards).toBe(4);
      const f = await BlobEngine.open(dir, { memtableBytes: 128 * 1024, shards: 8, maxBytes: 1 << 30 });
      for (let i = 0; i < 50; i++) expect((await f.get(`k${i}`))?.equals(Buffer.alloc(3000, i))).toBe(true);
      await f.close();
    });
  });
});

describe('hazard 5.2-7: segment ids are not reused', () => {
  it('after the newest segment files vanished, new segments get higher ids', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, shards: 1 });
      for (let i = 0; i < 3; i++) {
        await e.put(`k${i}`, Buffer.from('v'));
        await e.flush();
      }
      await e.close();
      const before = (await segFiles(dir)).filter((f) => f.endsWith('.seg'));
      const newest = before[before.length - 1]!;
      const newestId = Number(newest.slice(-14, -4));
      await rm(newest);
      await rm(newest.replace(/\.seg$/, '.meta'));
      const f = await BlobEngine.open(dir, small);
      await f.put('again', Buffer.from('v'));
      await f.flush();
      await f.close();
      const ids = (await segFiles(dir))
        .filter((x) => x.endsWith('.seg'))
        .map((x) => Number(x.slice(-14, -4)));
      expect(Math.max(...ids)).toBeGreaterThan(newestId);
    });
  });
});

describe('hazard 5.2-9: iteration does not warm SIEVE', () => {
  it('a full keys() scan (with values) leaves every visited bit as it was', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability: 'cache', ...small });
      for (let i = 0; i < 300; i++) await e.put(`k${String(i).padStart(3, '0')}`, Buffer.alloc(100, i));
      await e.flush();
      await e.get('k007');
      await e.get('k123');
      expect((await collect(e.keys({ withValues: true }))).length).toBe(300);
      let visited = 0;
      e.index.forEach((n) => {
        if (e.index.visited(n)) visited++;
      });
      expect(visited).toBe(2);
      await e.close();
    });
  });
});

describe('hazard 5.2-10: liveBytes does not drift', () => {
  it('overwrites and deletes subtract the old version, before and after flush and reopen', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      await e.put('a', Buffer.alloc(1000));
      await e.put('b', Buffer.alloc(500));
      const one = 42 + 1 + 1000 + 42 + 1 + 500;
      expect(e.stats().liveBytes).toBe(one);
      await e.flush();
      await e.put('a', Buffer.alloc(10));
      await e.delete('b');
      expect(e.stats().liveBytes).toBe(42 + 1 + 10);
      expect(e.stats().items).toBe(1);
      await e.close();
      const f = await BlobEngine.open(dir, small);
      expect(f.stats().liveBytes).toBe(42 + 1 + 10);
      await f.close();
    });
  });
});

describe('hazard 5.2-11: close() keeps the active memtable in cache mode', () => {
  it('data put just before close is there after reopen', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability: 'cache', ...small });
      await e.put('late', Buffer.from('v'));
      await e.close();
      const f = await BlobEngine.open(dir, { durability: 'cache', ...small });
      expect((await f.get('late'))?.toString()).toBe('v');
      await f.close();
    });
  });
});

describe('hazard 5.2-14: corruption is remembered across restarts', () => {
  it('a damaged record reads as a miss, leaves listings, and stays gone after reopen', async () => {
    await withTempDir(async (dir) => {
      // values kept out of LMDB: gets read the segment (inline values are served from LMDB)
      const onDisk = { ...small, maxInlineValueBytes: 0 };
      const e = await BlobEngine.open(dir, { ...onDisk, shards: 1 });
      await e.put('good', Buffer.from('good-value'));
      await e.put('bad', Buffer.from('bad-value-bytes'));
      await e.close();
      const seg = (await segFiles(dir)).find((f) => f.endsWith('.seg'))!;
      const bytes = await readFile(seg);
      const at = bytes.indexOf('bad-value-bytes');
      bytes[at + 3] = bytes[at + 3]! ^ 0xff;
      await writeFile(seg, bytes);
      const f = await BlobEngine.open(dir, onDisk);
      expect(await f.get('bad')).toBeUndefined();
      expect(f.stats().corruptReads).toBe(1);
      expect((await collect(f.keys())).map((x) => x.key.toString())).toEqual(['good']);
      await f.close();
      const g = await BlobEngine.open(dir, onDisk);
      expect(await g.get('bad')).toBeUndefined();
      expect((await g.get('good'))?.toString()).toBe('good-value');
      expect((await collect(g.keys())).map((x) => x.key.toString())).toEqual(['good']);
      await g.close();
    });
  });
});

describe('inline values are served from their verified LMDB copy', () => {
  it('a small value whose segment bytes were damaged after a clean close reads back intact', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, shards: 1 });
      await e.put('small', Buffer.from('small-value-bytes'));
      await e.close();
      const seg = (await segFiles(dir)).find((f) => f.endsWith('.seg'))!;
      const bytes = await readFile(seg);
      const at = bytes.indexOf('small-value-bytes');
      bytes[at + 3] = bytes[at + 3]! ^ 0xff;
      await writeFile(seg, bytes);
      const f = await BlobEngine.open(dir, small);
      // the LMDB row was copied from the memtable at flush: the bytes the caller wrote
      expect((await f.get('small'))?.toString()).toBe('small-value-bytes');
      expect(f.stats().corruptReads).toBe(0);
      await f.close();
    });
  });

  it('after a crash-only reopen the rebuild verifies the segment copy: damage reads as a miss', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, shards: 1 });
      await e.put('small', Buffer.from('small-value-bytes'));
      await e.put('other', Buffer.from('other-value'));
      await e.close();
      await rm(join(dir, 'keyindex', 'clean.json'));
      const seg = (await segFiles(dir)).find((f) => f.endsWith('.seg'))!;
      const bytes = await readFile(seg);
      const at = bytes.indexOf('small-value-bytes');
      bytes[at + 3] = bytes[at + 3]! ^ 0xff;
      await writeFile(seg, bytes);
      const f = await BlobEngine.open(dir, small);
      expect(await f.get('small')).toBeUndefined();
      expect((await f.get('other'))?.toString()).toBe('other-value');
      expect((await collect(f.keys())).map((x) => x.key.toString())).toEqual(['other']);
      await f.close();
    });
  });
});

describe('key index rebuild', () => {
  it('a deleted LMDB directory is rebuilt from the segments, inline values included', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, maxInlineValueBytes: 10 });
      await e.put('s', Buffer.from('small'));
      await e.put('l', Buffer.from('a larger value'));
      await e.close();
      await rm(join(dir, 'keyindex'), { recursive: true });
      await mkdir(join(dir, 'keyindex'));
      const f = await BlobEngine.open(dir, { ...small, maxInlineValueBytes: 10 });
      const rows = await collect(f.keys({ withValues: true }));
      expect(rows.map((r) => [r.key.toString(), r.size, r.value?.toString()])).toEqual([
        ['l', 14, undefined],
        ['s', 5, 'small'],
      ]);
      await f.close();
    });
  });
});

describe('hazard 5.2-12: read-after-write never depends on a cache setting', () => {
  it('a value is readable from the moment put resolves, through sealing and flushing', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...small, maxInflightMemtables: 4 });
      for (let i = 0; i < 100; i++) {
        await e.put(`k${i}`, Buffer.alloc(2000, i));
        expect((await e.get(`k${i}`))?.equals(Buffer.alloc(2000, i))).toBe(true);
      }
      expect(e.stats().memtables).toBeGreaterThan(0);
      await e.close();
    });
  });
});

describe('hazard 5.2-13: a maintenance failure is loud, not a silently dead worker', () => {
  it('a failing rewrite degrades the engine: writes reject with the cause, reads keep working', async () => {
    await withTempDir(async (dir) => {
      const opts = {
        ...small,
        shards: 1,
        coolingSegments: 0,
        maxInflightMemtables: 1,
        maintenanceEverySegments: 1000,
      };
      const e = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 10; i++) await e.put(`k${i}`, Buffer.alloc(3000, i));
      await e.flush();
      for (let i = 0; i < 8; i++) await e.delete(`k${i}`);
      for (let i = 0; i < 60; i++) await e.put(`f${i}`, Buffer.alloc(3000, i));
      await e.flush();
      const shard = join(dir, 'segments', '0000');
      const firstMeta = (await readdir(shard)).filter((f) => f.endsWith('.meta')).sort()[0]!;
      await rm(join(shard, firstMeta)); // external damage under a running engine
      await e.runMaintenance();
      expect(e.degraded).toBe(true);
      expect(e.stats().degradedReason).toMatch(/ENOENT/);
      await expect(e.put('x', Buffer.from('y'))).rejects.toBeInstanceOf(EngineDegradedError);
      expect((await e.get('k9'))?.equals(Buffer.alloc(3000, 9))).toBe(true);
      await e.close();
      const f = await BlobEngine.open(dir, opts); // the .meta is rebuilt from the segment
      expect((await f.get('k9'))?.equals(Buffer.alloc(3000, 9))).toBe(true);
      expect(await f.get('k0')).toBeUndefined();
      await f.close();
    });
  });
});
