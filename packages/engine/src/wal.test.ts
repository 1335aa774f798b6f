import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { Memtable } from './memtable.ts';
import { scanSegmentFile } from './segfile.ts';
import { withTempDir } from './testutil.ts';
import { WalFile } from './wal.ts';

await initKeyHash();

function append(mt: Memtable, seq: number, key: string, value: string | undefined): number {
  const k = Buffer.from(key);
  const h = hashKey(k);
  const e = mt.append(seq, k, h, h.toString('latin1'), value === undefined ? undefined : Buffer.from(value));
  return e.pos + e.len;
}

describe('WalFile', () => {
  it('group commit: puts of one tick share one write + fdatasync, and the file scans back', async () => {
    await withTempDir(async (dir) => {
      const mt = new Memtable(1, 64 * 1024);
      const stats = { syncs: 0, bytes: 0 };
      const wal = WalFile.create(join(dir, '1.wal'), dir, mt.slab, stats);
      const waits: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) waits.push(wal.syncThrough(append(mt, i + 1, `k${i}`, `v${i}`)));
      await Promise.all(waits);
      expect(stats.syncs).toBe(1);
      // later writes while nothing is in flight get their own sync
      await wal.syncThrough(append(mt, 100, 'x', undefined));
      expect(stats.syncs).toBe(2);
      await wal.seal(mt.used);
      const fh = await open(join(dir, '1.wal'), 'r');
      const scan = await scanSegmentFile(fh, 1 << 20);
      await fh.close();
      expect(scan.segId).toBe(1);
      expect(scan.entries.length).toBe(51);
      expect(scan.entries[50]?.tombstone).toBe(true);
      expect(scan.validEnd).toBe(mt.used);
    });
  });

  it('pipelined group commit: groups issued while a sync runs are all durable and scan back', async () => {
    await withTempDir(async (dir) => {
      const mt = new Memtable(3, 1 << 20);
      const stats = { syncs: 0, bytes: 0 };
      const wal = WalFile.create(join(dir, '3.wal'), dir, mt.slab, stats);
      const waits: Promise<void>[] = [];
      let seq = 0;
      for (let g = 0; g < 8; g++) {
        for (let i = 0; i < 20; i++) {
          seq++;
          waits.push(wal.syncThrough(append(mt, seq, `g${g}k${i}`, 'v'.repeat(1000))));
        }
        await new Promise((r) => setImmediate(r)); // the next group arrives while syncs run
      }
      // seal right away: it must wait for every sync still in flight before closing the handle
      await wal.seal(mt.used);
      await Promise.all(waits);
      expect(stats.bytes).toBe(mt.used);
      expect(stats.syncs).toBeGreaterThanOrEqual(1);
      expect(stats.syncs).toBeLessThanOrEqual(8);
      const fh = await open(join(dir, '3.wal'), 'r');
      const scan = await scanSegmentFile(fh, 1 << 20);
      await fh.close();
      expect(scan.entries.length).toBe(160);
      expect(scan.validEnd).toBe(mt.used);
    });
  });

  it('writes nothing before the previous WAL file is durable, and nothing at all if it failed', async () => {
    await withTempDir(async (dir) => {
      const stats = { syncs: 0, bytes: 0 };
      let release!: () => void;
      const previous = new Promise<void>((r) => {
        release = r;
      });
      const mt = new Memtable(5, 64 * 1024);
      const wal = WalFile.create(join(dir, '5.wal'), dir, mt.slab, stats, previous);
      const acked = wal.syncThrough(append(mt, 1, 'a', 'b'));
      let done = false;
      void acked.then(() => {
        done = true;
      });
      await new Promise((r) => setTimeout(r, 30));
      expect(done).toBe(false);
      expect((await readFile(join(dir, '5.wal'))).length).toBe(0);
      release();
      await acked;
      expect((await readFile(join(dir, '5.wal'))).length).toBe(mt.used);
      const mt2 = new Memtable(6, 64 * 1024);
      const failedBefore = Promise.reject(new Error('previous WAL failed'));
      const wal2 = WalFile.create(join(dir, '6.wal'), dir, mt2.slab, stats, failedBefore);
      await expect(wal2.syncThrough(append(mt2, 2, 'c', 'd'))).rejects.toThrow(/previous WAL failed/);
      expect((await readFile(join(dir, '6.wal'))).length).toBe(0);
    });
  });

  it('hazard 5.2-1: an I/O failure rejects every waiter and every later write', async () => {
    await withTempDir(async (dir) => {
      const mt = new Memtable(2, 64 * 1024);
      const blocker = join(dir, 'notadir');
      await writeFile(blocker, 'x');
      const wal = WalFile.create(join(blocker, '2.wal'), blocker, mt.slab, { syncs: 0, bytes: 0 });
      await expect(wal.syncThrough(append(mt, 1, 'a', 'b'))).rejects.toThrow();
      await expect(wal.syncThrough(append(mt, 2, 'c', 'd'))).rejects.toThrow();
      expect(wal.error).toBeDefined();
    });
  });

  it('a scan stops at a torn tail and never returns bytes past it', async () => {
    await withTempDir(async (dir) => {
      const mt = new Memtable(3, 64 * 1024);
      append(mt, 1, 'a', 'x'.repeat(100));
      const end2 = append(mt, 2, 'b', 'y'.repeat(100));
      append(mt, 3, 'c', 'z'.repeat(100));
      const path = join(dir, '3.wal');
      await mkdir(dir, { recursive: true });
      const bytes = Buffer.from(mt.slab.subarray(0, mt.used));
      bytes[end2 + 60] = bytes[end2 + 60]! ^ 0xff; // damage the value of record 3
      await writeFile(path, bytes);
      const fh = await open(path, 'r');
      const scan = await scanSegmentFile(fh, 1 << 20);
      await fh.close();
      expect(scan.entries.map((e) => e.key.toString())).toEqual(['a', 'b']);
      expect(scan.validEnd).toBe(end2);
      await writeFile(path, (await readFile(path)).subarray(0, end2 - 5));
      const fh2 = await open(path, 'r');
      expect((await scanSegmentFile(fh2, 1 << 20)).entries.length).toBe(1);
      await fh2.close();
      await rm(path);
    });
  });
});

describe('Memtable', () => {
  it('keeps the newest entry per key, sorted keys, and refuses sequence regressions', () => {
    const mt = new Memtable(7, 64 * 1024);
    append(mt, 1, 'b', '1');
    append(mt, 2, 'a', '2');
    append(mt, 3, 'b', '3');
    expect(mt.sortedKeys().map((k) => k.toString())).toEqual(['a', 'b']);
    append(mt, 4, 'c', undefined);
    expect(mt.sortedKeys().map((k) => k.toString())).toEqual(['a', 'b', 'c']);
    const fe = mt.footerEntries();
    expect(fe.map((e) => [e.key.toString(), e.seq, e.tombstone])).toEqual([
      ['a', 2, false],
      ['b', 3, false],
      ['c', 4, true],
    ]);
    const b = mt.get(hashKey(Buffer.from('b')).toString('latin1'));
    expect(b && mt.value(b).toString()).toBe('3');
    expect(() => append(mt, 2, 'a', 'old')).toThrow(/sequence regression/);
    mt.sealed = true;
    expect(() => append(mt, 9, 'z', 'z')).toThrow(/sealed/);
  });
});
