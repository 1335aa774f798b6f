import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { EngineFullError } from './errors.ts';
import { collect, runAndCrash, withTempDir } from './testutil.ts';

const KiB = 1024;
const value = (i: number, n = 2000): Buffer => Buffer.alloc(n, i % 251);

describe('eviction (cache mode)', () => {
  it('keeps liveBytes under maxBytes, and listing agrees with reads', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 256 * KiB;
      const e = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 64 * KiB, maxBytes });
      for (let i = 0; i < 600; i++) await e.put(`k${String(i).padStart(4, '0')}`, value(i));
      await e.flush();
      await e.runMaintenance();
      const s = e.stats();
      expect(s.liveBytes).toBeLessThanOrEqual(maxBytes);
      expect(s.evictions).toBeGreaterThan(0);
      const listed = await collect(e.keys());
      expect(listed.length).toBe(s.items);
      for (const { key } of listed)
        expect((await e.get(key))?.equals(value(Number(key.toString().slice(1))))).toBe(true);
      await e.close();
      const f = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 64 * KiB, maxBytes });
      expect(f.stats().items).toBe(s.items); // evictions were dead-marked: nothing resurrects
      expect(f.stats().liveBytes).toBeLessThanOrEqual(maxBytes);
      await f.close();
    });
  });

  it('SIEVE keeps the read-hot keys; a full iteration does not protect cold ones', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 256 * KiB;
      const e = await BlobEngine.open(dir, {
        durability: 'cache',
        memtableBytes: 64 * KiB,
        maxBytes: 1024 * KiB,
      });
      for (let i = 0; i < 400; i++) await e.put(`k${String(i).padStart(4, '0')}`, value(i));
      await e.close();
      // reopen with a tighter bound: the hash index holds everything, nothing is evicted yet
      // (cooling keeps drain away: this test is about which items SIEVE picks)
      const f = await BlobEngine.open(dir, {
        durability: 'cache',
        memtableBytes: 64 * KiB,
        maxBytes,
        coolingSegments: 1000,
      });
      const hot = ['k0003', 'k0100', 'k0200', 'k0390'];
      for (const k of hot) expect(await f.get(k)).toBeDefined();
      expect((await collect(f.keys({ withValues: true }))).length).toBe(400);
      await f.runMaintenance();
      expect(f.stats().liveBytes).toBeLessThanOrEqual(maxBytes);
      for (const k of hot) expect(await f.get(k), k).toBeDefined();
      expect(f.stats().items).toBeLessThan(400);
      await f.close();
    });
  });

  it('a key read while still in the memtable enters SIEVE visited at its flush', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 256 * KiB;
      const e = await BlobEngine.open(dir, {
        durability: 'cache',
        memtableBytes: 64 * KiB,
        maxBytes,
        coolingSegments: 1000,
      });
      await e.put('hot', value(1)); // the oldest item: SIEVE's first candidate
      expect(await e.get('hot')).toBeDefined(); // read before its flush
      let i = 0;
      while (e.stats().evictions === 0 && i < 2000) {
        await e.put(`k${String(i).padStart(4, '0')}`, value(i));
        i++;
        if (i % 32 === 0) await e.runMaintenance();
      }
      expect(e.stats().evictions).toBeGreaterThan(0);
      expect(await e.get('hot')).toBeDefined();
      await e.close();
    });
  });

  it('durable mode defaults to onFull=reject with a typed error', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * KiB, maxBytes: 128 * KiB });
      let rejected = 0;
      for (let i = 0; i < 100; i++) {
        try {
          await e.put(`k${i}`, value(i));
        } catch (err) {
          expect(err).toBeInstanceOf(EngineFullError);
          rejected++;
        }
      }
      expect(rejected).toBeGreaterThan(0);
      expect(e.stats().liveBytes).toBeLessThanOrEqual(128 * KiB);
      // overwriting with a smaller value and deleting still work when full
      await e.put('k0', Buffer.from('x'));
      expect(await e.delete('k1')).toBe(true);
      await e.close();
    });
  });

  // engine-bugs.md #5: eviction unindexes a victim at once and dead-marks it durably a little
  // later; a delete in between found nothing, answered at once, and a crash brought the key back.
  it('an acknowledged delete of a just-evicted key survives SIGKILL', async () => {
    await withTempDir(async (dir) => {
      const options = { durability: 'cache' as const, memtableBytes: 256 * KiB, maxBytes: 1024 * KiB };
      await runAndCrash(dir, options, [
        ['put', 'victim', 'v'.repeat(20_000)],
        ['flush'],
        ['evict', 'victim'], // fillers until get('victim') misses
        ['del', 'victim'], // acknowledged, then SIGKILL
      ]);
      const e = await BlobEngine.open(dir, options);
      expect(await e.get('victim')).toBeUndefined();
      expect((await collect(e.keys({ prefix: 'victim' }))).length).toBe(0);
      await e.close();
    });
  });
});

describe('cache-mode deletes of a segment flushed without a sync', () => {
  // The first delete's dead mark waits for its segment's sync; a second delete of the key finds
  // nothing and must not be acknowledged before that mark is durable (engine-bugs.md #5).
  it('a delete answered "not there" behind a pending delete of the same key survives SIGKILL', async () => {
    await withTempDir(async (dir) => {
      const options = { durability: 'cache' as const, memtableBytes: 256 * KiB };
      await runAndCrash(dir, options, [
        ['put', 'victim', 'v'.repeat(20_000)],
        ['flush'],
        ['delTwice', 'victim'],
      ]);
      const e = await BlobEngine.open(dir, options);
      expect(await e.get('victim')).toBeUndefined();
      await e.close();
    });
  });
});

describe('drain (cache mode)', () => {
  it('drops sparse cooled segments and keeps every remaining key readable', async () => {
    await withTempDir(async (dir) => {
      const opts = {
        durability: 'cache' as const,
        memtableBytes: 64 * KiB,
        maxBytes: 512 * KiB,
        coolingSegments: 0,
        maxInflightMemtables: 1,
        maintenanceEverySegments: 1000,
      };
      const e = await BlobEngine.open(dir, opts);
      // write 40 keys many times: most segment bytes become dead
      for (let round = 0; round < 12; round++) {
        for (let i = 0; i < 40; i++) await e.put(`k${i}`, value(round * 100 + i));
      }
      await e.flush();
      const before = e.stats();
      await e.runMaintenance();
      const after = e.stats();
      expect(after.drains).toBeGreaterThan(0);
      expect(after.diskBytes).toBeLessThan(before.diskBytes);
      for (let i = 0; i < 40; i++) {
        const got = await e.get(`k${i}`);
        if (got) expect(got.equals(value(1100 + i))).toBe(true);
      }
      const listed = await collect(e.keys());
      expect(listed.length).toBe(after.items);
      await e.close();
    });
  });
});

describe('single-segment rewrite (durable mode)', () => {
  const opts = {
    memtableBytes: 64 * KiB,
    coolingSegments: 0,
    maxInflightMemtables: 1,
    maintenanceEverySegments: 1000,
  };

  it('copies only live records, drops dead segments, and survives reopen byte-exact', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 20; i++) await e.put(`k${i}`, value(i, 3000));
      await e.flush();
      for (let i = 0; i < 15; i++) await e.delete(`k${i}`);
      // push the first segment out of the cooling window
      for (let i = 0; i < 60; i++) await e.put(`filler${i}`, value(i, 3000));
      await e.flush();
      const before = e.stats();
      await e.runMaintenance();
      const after = e.stats();
      expect(after.compactions).toBeGreaterThan(0);
      expect(after.diskBytes).toBeLessThan(before.diskBytes);
      for (let i = 0; i < 20; i++) {
        const got = await e.get(`k${i}`);
        if (i < 15) expect(got).toBeUndefined();
        else expect(got?.equals(value(i, 3000))).toBe(true);
      }
      await e.close();
      const f = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 20; i++) {
        const got = await f.get(`k${i}`);
        if (i < 15) expect(got).toBeUndefined();
        else expect(got?.equals(value(i, 3000))).toBe(true);
      }
      expect((await collect(f.keys({ prefix: 'k' }))).length).toBe(5);
      await f.close();
    });
  });

  it('cooling: the newest segments are never rewritten', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { ...opts, coolingSegments: 1000 });
      for (let i = 0; i < 40; i++) await e.put(`k${i}`, value(i, 3000));
      for (let i = 0; i < 40; i++) await e.delete(`k${i}`);
      await e.flush();
      await e.runMaintenance();
      expect(e.stats().compactions).toBe(0);
      await e.close();
    });
  });

  it('Leapfrog rule: a tombstone outside the tail segment is kept by a rewrite', async () => {
    await withTempDir(async (dir) => {
      const o = { ...opts, shards: 1 };
      const e = await BlobEngine.open(dir, o);
      await e.put('victim', value(1, 1000));
      await e.put('anchor', value(2, 30_000)); // keeps the first (tail) segment alive and dense
      await e.flush();
      await e.delete('victim'); // tombstone record in the second segment...
      for (let i = 0; i < 10; i++) await e.put(`tmp${i}`, value(i, 3000));
      await e.flush();
      for (let i = 0; i < 10; i++) await e.delete(`tmp${i}`); // ...which becomes mostly dead
      for (let i = 0; i < 40; i++) await e.put(`f${i}`, value(i, 3000));
      await e.flush();
      await e.runMaintenance();
      expect(e.stats().compactions).toBeGreaterThan(0);
      await e.close();
      // Lose the first segment's dead marks (rebuild its .meta from the .seg): only the kept
      // tombstone now shields the old 'victim' record.
      const marker = JSON.parse(await readFile(join(dir, 'blobcache.json'), 'utf8')) as { shards: number };
      expect(marker.shards).toBe(1);
      await rm(join(dir, 'segments', '0000', '0000000001.meta'));
      const f = await BlobEngine.open(dir, o);
      expect(await f.get('victim')).toBeUndefined();
      expect((await f.get('anchor'))?.equals(value(2, 30_000))).toBe(true);
      await f.close();
    });
  });
});

describe('eviction yields to the event loop', () => {
  it('reads complete while a long eviction runs in small batches', async () => {
    await withTempDir(async (dir) => {
      const base = { durability: 'cache' as const, memtableBytes: 64 * KiB, coolingSegments: 1000 };
      const e = await BlobEngine.open(dir, { ...base, maxBytes: 4096 * KiB });
      for (let i = 0; i < 1500; i++) await e.put(`k${i}`, value(i, 1000));
      await e.close();
      const f = await BlobEngine.open(dir, { ...base, maxBytes: 256 * KiB, evictionBatchItems: 8 });
      const evicting = f.runMaintenance();
      let readsDuring = 0;
      let done = false;
      void evicting.then(() => {
        done = true;
      });
      while (!done) {
        await f.get('k1499');
        if (!done) readsDuring++;
        // a get may complete synchronously (inline value, bloom miss): let the eviction's I/O in
        await new Promise((r) => setImmediate(r));
      }
      await evicting;
      expect(readsDuring).toBeGreaterThan(3); // the loop did not hold the event loop for 1000+ victims
      expect(f.stats().liveBytes).toBeLessThanOrEqual(256 * KiB);
      await f.close();
    });
  });
});

describe('bloom ghost accounting', () => {
  it('a deleted key still in the bloom filter counts as a ghost on lookup', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * KiB });
      await e.put('gone', Buffer.from('v'));
      await e.flush();
      await e.delete('gone');
      await e.flush();
      expect(await e.get('gone')).toBeUndefined();
      expect(e.stats().bloomGhosts).toBe(1);
      await e.close();
    });
  });
});

describe('bloom filter rebuild', () => {
  it('rebuilds after many deletions without false negatives', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { memtableBytes: 64 * KiB, bloomExpectedItems: 1024 });
      for (let i = 0; i < 400; i++) await e.put(`k${i}`, Buffer.from(`v${i}`));
      await e.flush();
      for (let i = 0; i < 250; i++) await e.delete(`k${i}`);
      expect(e.stats().bloomDeletions).toBeGreaterThan(102);
      await e.runMaintenance();
      expect(e.stats().bloomRebuilds).toBeGreaterThan(0);
      expect(e.stats().bloomDeletions).toBe(0);
      for (let i = 250; i < 400; i++) expect((await e.get(`k${i}`))?.toString()).toBe(`v${i}`);
      await e.close();
    });
  });
});
