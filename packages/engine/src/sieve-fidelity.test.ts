import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sieveHitRatio, zipfTrace } from '../bench/sieve-model.ts';
import { resolveConfig } from './config.ts';
import { BlobEngine } from './engine.ts';
import { type HashIndex, NO_NODE } from './hashindex.ts';
import { hashKey } from './keyhash.ts';
import type { Maintenance } from './maintenance.ts';
import { decodeMeta } from './meta.ts';
import { recordBytes } from './record.ts';
import type { SegmentStore } from './segment.ts';
import { runAndCrash, withTempDir } from './testutil.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

interface DeleteSeenByCrash {
  existed: boolean;
  /** The copy's segment (the newest registered one) holds a copy of the key... */
  copied: boolean;
  /** ...and dead-marks it. */
  dead: boolean;
}

/**
 * Issues delete(key) when a copy forward reads its first record (it has classified the key as
 * live and will copy it), after `beforeDelete`; the returned function resolves to what a crash
 * right after the acknowledgement would find in the newest segment (newer than `lastSource`).
 */
function deleteWhenCopyReads(
  e: BlobEngine,
  store: SegmentStore,
  key: string,
  lastSource: number,
  beforeDelete?: () => void,
): () => Promise<DeleteSeenByCrash | undefined> {
  const h = hashKey(Buffer.from(key)).toString('latin1');
  const read = store.read.bind(store);
  let acknowledged: Promise<DeleteSeenByCrash> | undefined;
  store.read = (id: number, pos: number, len: number): Promise<Buffer> => {
    if (acknowledged === undefined) {
      beforeDelete?.();
      acknowledged = e.delete(key).then((existed) => {
        const newest = store.ids().at(-1) as number;
        if (newest <= lastSource) return { existed, copied: false, dead: false };
        const meta = decodeMeta(readFileSync(store.metaPath(newest)), 1536);
        const copied = meta?.footer.entries.some((en) => en.hash.toString('latin1') === h) ?? false;
        return { existed, copied, dead: meta?.dead.has(h) ?? false };
      });
    }
    return read(id, pos, len);
  };
  return async () => {
    store.read = read;
    return acknowledged;
  };
}

describe('SIEVE model (bench/sieve-model.ts)', () => {
  it('evicts the first unvisited item from the hand and keeps the hand across evictions', () => {
    // capacity 3: a b c (a visited) -> d evicts b (a's bit cleared, hand moves past b to c)
    // -> e evicts c (hand at c, unvisited) -> a is still there (hit), b is not (miss)
    const [a, b, c, d, e] = [1, 2, 3, 4, 5];
    const trace = [a, b, c, a, d, e, a, b];
    // hits: the 2nd a, the 3rd a; b at the end is a miss
    expect(sieveHitRatio(trace, 3)).toBeCloseTo(2 / trace.length, 10);
    expect(sieveHitRatio(trace, 0)).toBe(0);
    expect(sieveHitRatio([a, a, a], 1)).toBeCloseTo(2 / 3, 10);
  });

  it('draws a deterministic Zipf trace', () => {
    const t = zipfTrace(1000, 5000, 42);
    expect(t).toEqual(zipfTrace(1000, 5000, 42));
    const top = t.filter((r) => r === 0).length / t.length;
    expect(top).toBeGreaterThan(0.1); // 1 / H(1000) ~ 0.134
    expect(top).toBeLessThan(0.17);
  });
});

describe('SIEVE fidelity (cache mode, onFull evict)', () => {
  it('gives an evicting store memtables of 1/32 of its budget (1/8 when it rejects)', () => {
    expect(resolveConfig({ durability: 'cache', maxBytes: 8 * MiB }).memtableBytes).toBe(256 * KiB);
    expect(resolveConfig({ durability: 'cache', maxBytes: 1 * MiB }).memtableBytes).toBe(32 * KiB);
    // Tiny budgets: 1/32 down to 8 KiB (a 64 KiB floor kept a quarter of 256 KiB outside SIEVE).
    expect(resolveConfig({ durability: 'cache', maxBytes: 128 * KiB }).memtableBytes).toBe(8 * KiB);
    expect(resolveConfig({ durability: 'durable', maxBytes: 8 * MiB }).memtableBytes).toBe(1 * MiB);
    expect(resolveConfig({ durability: 'durable', onFull: 'evict', maxBytes: 8 * MiB }).memtableBytes).toBe(
      256 * KiB,
    );
  });

  it('a burst of puts never leaves the store above its budget while flushed items remain', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 512 * KiB;
      const e = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 64 * KiB, maxBytes });
      const value = Buffer.alloc(4000, 1);
      for (let i = 0; i < 200; i++) await e.put(`a${i}`, value);
      await e.flush();
      expect(e.stats().liveBytes).toBeLessThanOrEqual(maxBytes);
      // Cache-mode puts resolve without I/O, so this loop never lets a background task run
      // between puts: each put must make its own room. At most 4 memtables (256 KiB) are
      // unflushed, so flushed victims always exist.
      for (let i = 0; i < 400; i++) {
        await e.put(`b${i}`, value);
        expect(e.stats().liveBytes).toBeLessThanOrEqual(maxBytes);
      }
      await e.close();
    });
  });

  it('hit ratio on a fixed Zipf trace is within 0.02 of an exact SIEVE of the same capacity', async () => {
    // Misses put the value (read-through). The budget holds capacity = floor(maxBytes / record
    // bytes) items; before the fix the engine lost 0.035-0.06 here (hysteresis, overshoot
    // between background batches, memtables outside SIEVE, drains of live segments).
    const trace = zipfTrace(1000, 10_000, 42);
    const valueBytes = 16 * KiB;
    const key = (r: number): string => `zipf/${String(r).padStart(6, '0')}`;
    // 512 KiB: with the old 64 KiB memtable floor the engine fell 0.044 below the model.
    for (const maxBytes of [512 * KiB, 1 * MiB, 4 * MiB]) {
      await withTempDir(async (dir) => {
        const e = await BlobEngine.open(dir, { durability: 'cache', onFull: 'evict', maxBytes });
        const value = Buffer.alloc(valueBytes, 3);
        let hits = 0;
        let puts = 0;
        for (const r of trace) {
          const got = await e.get(key(r));
          if (got) {
            expect(got.length).toBe(valueBytes);
            hits++;
          } else {
            await e.put(key(r), value);
            puts++;
          }
        }
        const s = e.stats();
        await e.close();
        const capacity = Math.floor(maxBytes / recordBytes(key(0).length, valueBytes));
        const model = sieveHitRatio(trace, capacity);
        expect(Math.abs(hits / trace.length - model)).toBeLessThanOrEqual(0.02);
        // every item that left was a SIEVE victim: reclaiming space dropped none
        expect(puts - s.evictions - s.items).toBe(0);
      });
    }
  });

  it('reclaiming space copies live items forward instead of dropping them', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 1 * MiB;
      const e = await BlobEngine.open(dir, {
        durability: 'cache',
        memtableBytes: 64 * KiB,
        maxBytes,
        maintenanceEverySegments: 1000, // only the explicit runMaintenance() below reclaims
      });
      const value = (i: number): Buffer => Buffer.alloc(4000, i & 255);
      // one key in four is read-hot: SIEVE keeps those, so the early segments end up 3/4 dead
      // with live items in each of them
      const hot: string[] = [];
      for (let i = 0; i < 200; i++) {
        await e.put(`first/${i}`, value(i));
        if (i % 4 === 0) hot.push(`first/${i}`);
      }
      for (let i = 0; i < 1500; i++) {
        await e.put(`cold/${i}`, value(i));
        if (i % 8 === 0) for (const k of hot) expect(await e.get(k)).toBeDefined();
      }
      await e.flush();
      const before = e.stats();
      expect(before.diskBytes - before.liveBytes).toBeGreaterThan(maxBytes / 2);
      await e.runMaintenance();
      const after = e.stats();
      expect(after.items).toBe(before.items);
      expect(after.liveBytes).toBe(before.liveBytes);
      expect(after.compactions).toBeGreaterThan(before.compactions);
      expect(after.diskBytes - after.liveBytes).toBeLessThan(maxBytes / 4);
      for (const k of hot) expect((await e.get(k))?.equals(value(Number(k.slice(6))))).toBe(true);
      await e.close();
      const f = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 64 * KiB, maxBytes });
      expect(f.stats().items).toBe(after.items);
      for (const k of hot) expect((await f.get(k))?.equals(value(Number(k.slice(6))))).toBe(true);
      await f.close();
    });
  });

  it('a delete of a key being merged is acknowledged only once the copy is dead-marked', async () => {
    await withTempDir(async (dir) => {
      const options = {
        durability: 'cache',
        memtableBytes: 64 * KiB,
        maxBytes: 4 * MiB,
        maintenanceEverySegments: 1000,
      } as const;
      const d = await BlobEngine.open(dir, options);
      for (let i = 0; i < 60; i++) await d.put(`k/${i}`, Buffer.alloc(4000, i));
      await d.close();
      // reopened: the segments are synced, so the delete's own dead mark is one quick append
      const e = await BlobEngine.open(dir, options);
      const internals = e as unknown as { maintenance: Maintenance; store: SegmentStore };
      const store = internals.store;
      const sources = store.ids().slice(0, 2);
      expect(sources.length).toBe(2);
      const acknowledged = deleteWhenCopyReads(e, store, 'k/0', Math.max(...sources));
      await internals.maintenance.mergeSegments(sources);
      expect(await acknowledged()).toEqual({ existed: true, copied: true, dead: true });
      expect(await e.get('k/0')).toBeUndefined();
      expect(await e.get('k/1')).toEqual(Buffer.alloc(4000, 1));
      expect(store.ids()).not.toContain(sources[0]);
      await e.close();
    });
  });
});

describe('copy forward racing an eviction (durable mode, onFull evict)', () => {
  // A durable-mode rewrite copies a live record, the key is evicted meanwhile (no tombstone is
  // written for an eviction), and a delete finds nothing: it must not be acknowledged before the
  // rewrite has dead-marked its copy, or a crash right after would bring the key back from it.
  it('a delete of an evicted key being rewritten is acknowledged only once the copy is dead-marked', async () => {
    await withTempDir(async (dir) => {
      const maxBytes = 4 * MiB;
      const options = {
        durability: 'durable',
        onFull: 'evict',
        memtableBytes: 64 * KiB,
        maxBytes,
        coolingSegments: 0,
        maintenanceEverySegments: 1000,
      } as const;
      const d = await BlobEngine.open(dir, options);
      for (let i = 0; i < 60; i++) await d.put(`k/${i}`, Buffer.alloc(4000, i));
      await d.close();
      const e = await BlobEngine.open(dir, options);
      const internals = e as unknown as {
        maintenance: Maintenance;
        store: SegmentStore;
        index: HashIndex;
        liveBytes: number;
      };
      const store = internals.store;
      const source = store.ids()[0] as number;
      await e.put('k/1', Buffer.alloc(10, 1)); // one dead record: the rewrite has something to gain
      await e.flush();
      const hash = hashKey(Buffer.from('k/0'));
      // SIEVE victims by hand: pretend the store is one byte over budget until k/0 is evicted.
      const evictKey0 = (): void => {
        for (let guard = 0; internals.index.find(hash) !== NO_NODE && guard < 100; guard++) {
          const saved = internals.liveBytes;
          internals.liveBytes = maxBytes + 1;
          internals.maintenance.evictNow();
          internals.liveBytes = saved - (maxBytes + 1 - internals.liveBytes);
        }
        expect(internals.index.find(hash)).toBe(NO_NODE);
      };
      const acknowledged = deleteWhenCopyReads(e, store, 'k/0', source, evictKey0);
      await internals.maintenance.rewriteSegment(source);
      expect(await acknowledged()).toEqual({ existed: false, copied: true, dead: true });
      expect(await e.get('k/0')).toBeUndefined();
      expect(await e.get('k/2')).toEqual(Buffer.alloc(4000, 2));
      await e.close();
      const f = await BlobEngine.open(dir, options);
      expect(await f.get('k/0')).toBeUndefined();
      expect(await f.get('k/1')).toEqual(Buffer.alloc(10, 1));
      await f.close();
    });
  });
});

describe('queued eviction marks (cache mode)', () => {
  // Evictions queue their dead marks (one .meta append per batch, not per put). A delete of a
  // key whose only flushed version was just evicted, answered from the memtable (the key was
  // put again), writes a tombstone that a crash loses with the memtable: it must not be
  // acknowledged before the evicted version's mark is durable, or the old value comes back.
  it('an acknowledged delete of a re-put, just-evicted key survives SIGKILL', async () => {
    await withTempDir(async (dir) => {
      const options = { durability: 'cache' as const, memtableBytes: 256 * KiB, maxBytes: 1024 * KiB };
      await runAndCrash(dir, options, [
        ['put', 'victim', 'v'.repeat(20_000)],
        ['flush'],
        ['evict', 'victim'], // fillers until get('victim') misses
        ['put', 'victim', 'w'.repeat(100)], // unflushed
        ['del', 'victim'], // found in the memtable, acknowledged, then SIGKILL
      ]);
      const e = await BlobEngine.open(dir, options);
      expect(await e.get('victim')).toBeUndefined();
      await e.close();
    });
  });
});
