import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { collect, runAndCrash, withTempDir } from './testutil.ts';

const small = { memtableBytes: 64 * 1024, shards: 1 };
/**
 * Values kept out of LMDB and out of the read cache of flushed slabs: gets read the segment
 * (inline values are served from LMDB, recently flushed ones from memory).
 */
const onDisk = { ...small, maxInlineValueBytes: 0, readCacheBytes: 0 };

async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'wal'))).filter((f) => f.endsWith('.wal'));
}

describe('crash-only open', () => {
  it('creates a WAL file on the first durable put and leaves none after flush or close', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      expect(await walFiles(dir)).toEqual([]);
      await e.put('a', Buffer.from('1'));
      expect((await walFiles(dir)).length).toBe(1);
      await e.flush();
      expect(await walFiles(dir)).toEqual([]);
      await e.put('b', Buffer.from('2'));
      await e.close();
      expect(await walFiles(dir)).toEqual([]);
    });
  });

  it('replays WAL files of many rotations after a crash and cuts a torn tail', async () => {
    await withTempDir(async (dir) => {
      const ops: string[][] = [];
      for (let i = 0; i < 120; i++) ops.push(['put', `k${i}`, `value-${i}-${'x'.repeat(1500)}`]);
      await runAndCrash(dir, { ...small, maxInflightMemtables: 4 }, ops);
      const wals = await walFiles(dir);
      expect(wals.length).toBeGreaterThan(0);
      // a torn write at the end of the newest WAL file: garbage after the last record
      const newest = join(dir, 'wal', wals.sort()[wals.length - 1]!);
      const fh = await open(newest, 'a');
      await fh.write(Buffer.from([0xfe, 0xca, 0x0b, 0xb1, 1, 2, 3, 4, 5, 6, 7]));
      await fh.close();
      const e = await BlobEngine.open(dir, small);
      for (let i = 0; i < 120; i++) {
        expect((await e.get(`k${i}`))?.toString()).toBe(`value-${i}-${'x'.repeat(1500)}`);
      }
      expect(await walFiles(dir)).toEqual([]);
      expect((await collect(e.keys())).length).toBe(120);
      await e.close();
    });
  });

  // engine-bugs.md #2: damage in the middle of an un-replayed WAL must cost only the damaged
  // record; a torn tail still ends the replay.
  describe('damage inside an un-replayed WAL', () => {
    const N = 60;
    const K = 10;
    const opts = { memtableBytes: 8 * 1024 * 1024, shards: 1 };
    const name = (i: number): string => `k${String(i).padStart(3, '0')}`;
    const val = (i: number): Buffer => Buffer.alloc(3000 + i, i + 1);

    /** N acknowledged puts (and a delete of 'gone' issued after record K), then SIGKILL. */
    async function crashWithWal(dir: string): Promise<{ wal: string; bytes: Buffer; keyAt: number }> {
      const ops: string[][] = [['put', 'gone', 'old-bytes']];
      for (let i = 0; i < N; i++) {
        ops.push(['put', name(i), val(i).toString('latin1')]);
        if (i === K + 5) ops.push(['del', 'gone']);
      }
      // latin1 round trip: the fixture writes Buffer.from(value) (utf8), so keep bytes < 0x80
      await runAndCrash(dir, opts, ops);
      const wals = await walFiles(dir);
      expect(wals.length).toBe(1);
      const wal = join(dir, 'wal', wals[0]!);
      const bytes = await readFile(wal);
      const keyAt = bytes.indexOf(Buffer.from(name(K)));
      expect(keyAt).toBeGreaterThan(42);
      return { wal, bytes, keyAt };
    }

    async function expectAllBut(dir: string, lost: (i: number) => boolean): Promise<void> {
      for (let round = 0; round < 2; round++) {
        const e = await BlobEngine.open(dir, opts);
        for (let i = 0; i < N; i++) {
          const got = await e.get(name(i));
          if (lost(i)) expect(got, `${name(i)} (damaged) must read as missing`).toBeUndefined();
          else expect(got?.equals(val(i)), `${name(i)} intact`).toBe(true);
        }
        const listed = (await collect(e.keys({ prefix: 'k' }))).map((r) => r.key.toString());
        expect(listed).toEqual([...Array(N).keys()].filter((i) => !lost(i)).map(name));
        expect(await walFiles(dir)).toEqual([]);
        await e.close();
      }
    }

    it('a flipped value byte of record K loses only record K (later puts and a later delete replay)', async () => {
      await withTempDir(async (dir) => {
        const { wal, bytes, keyAt } = await crashWithWal(dir);
        bytes[keyAt + 4 + 1500] = bytes[keyAt + 4 + 1500]! ^ 0xff;
        await writeFile(wal, bytes);
        await expectAllBut(dir, (i) => i === K);
        const e = await BlobEngine.open(dir, opts);
        expect(await e.get('gone')).toBeUndefined(); // the acknowledged delete after the damage
        await e.close();
      });
    });

    it('a damaged header or key of record K (no trustworthy length) resynchronises at record K+1', async () => {
      for (const offset of [-42 + 2 /* magic */, -42 + 26 /* physical size */, 1 /* key */]) {
        await withTempDir(async (dir) => {
          const { wal, bytes, keyAt } = await crashWithWal(dir);
          bytes[keyAt + offset] = bytes[keyAt + offset]! ^ 0x5a;
          await writeFile(wal, bytes);
          await expectAllBut(dir, (i) => i === K);
          const e = await BlobEngine.open(dir, opts);
          expect(await e.get('gone')).toBeUndefined();
          await e.close();
        });
      }
    });

    it('a WAL truncated inside record K (torn tail) keeps records before K and nothing after', async () => {
      await withTempDir(async (dir) => {
        const { wal, bytes, keyAt } = await crashWithWal(dir);
        await writeFile(wal, bytes.subarray(0, keyAt + 4 + 1000));
        await expectAllBut(dir, (i) => i >= K);
        const e = await BlobEngine.open(dir, opts);
        expect((await e.get('gone'))?.toString()).toBe('old-bytes'); // its delete came after the cut
        await e.close();
      });
    });
  });

  it('ignores junk files and an empty directory opens empty', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      expect(e.stats()).toMatchObject({ items: 0, segments: 0 });
      await e.put('k', Buffer.from('v'));
      await e.close();
      const shard = join(dir, 'segments', '0000');
      await writeFile(join(shard, 'invalid.seg'), 'junk');
      await writeFile(join(shard, '0000000777.seg'), 'not a segment at all');
      await writeFile(join(shard, '0000000778.meta'), 'orphan meta');
      await writeFile(join(shard, '0000000779.seg.tmp'), 'unfinished');
      await mkdir(join(dir, 'wal'), { recursive: true });
      await writeFile(join(dir, 'wal', '0000000900.wal'), 'torn before the header');
      const f = await BlobEngine.open(dir, small);
      expect((await f.get('k'))?.toString()).toBe('v');
      expect(f.stats().items).toBe(1);
      await f.close();
      const left = await readdir(shard);
      expect(left).not.toContain('0000000778.meta');
      expect(left).not.toContain('0000000779.seg.tmp');
      expect(await walFiles(dir)).toEqual([]);
    });
  });

  it('a vanished segment file turns its items into misses, never an exception', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, onDisk);
      await e.put('gone', Buffer.from('v'));
      await e.flush();
      await e.put('kept', Buffer.from('w'));
      await e.flush();
      const shard = join(dir, 'segments', '0000');
      const segs = (await readdir(shard)).filter((f) => f.endsWith('.seg')).sort();
      const { rm } = await import('node:fs/promises');
      await rm(join(shard, segs[0]!));
      expect(await e.get('gone')).toBeUndefined();
      expect(e.stats().corruptReads).toBe(1);
      expect((await e.get('kept'))?.toString()).toBe('w');
      expect((await collect(e.keys())).map((r) => r.key.toString())).toEqual(['kept']);
      await e.close();
      expect((await stat(join(shard, segs[1]!))).size).toBeGreaterThan(0);
    });
  });

  it('damaged key bytes on disk read as a miss in durable mode (key verification)', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, onDisk);
      await e.put('victim-key', Buffer.from('value'));
      await e.put('other', Buffer.from('fine'));
      await e.close();
      const shard = join(dir, 'segments', '0000');
      const seg = join(shard, (await readdir(shard)).find((f) => f.endsWith('.seg'))!);
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(seg);
      const at = bytes.indexOf('victim-key');
      bytes[at + 2] = bytes[at + 2]! ^ 0x20;
      await writeFile(seg, bytes);
      const f = await BlobEngine.open(dir, onDisk);
      expect(await f.get('victim-key')).toBeUndefined();
      expect((await f.get('other'))?.toString()).toBe('fine');
      await f.close();
    });
  });

  it('a key index rebuild never lists bytes of a damaged small value', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, small);
      await e.put('meta/damaged', Buffer.from('original-small-value'));
      await e.put('meta/fine', Buffer.from('fine-small-value'));
      await e.close();
      const shard = join(dir, 'segments', '0000');
      const seg = join(shard, (await readdir(shard)).find((f) => f.endsWith('.seg'))!);
      const { readFile, rm } = await import('node:fs/promises');
      const bytes = await readFile(seg);
      const at = bytes.indexOf('original-small-value');
      bytes[at + 5] = bytes[at + 5]! ^ 0x01;
      await writeFile(seg, bytes);
      await rm(join(dir, 'keyindex'), { recursive: true });
      const f = await BlobEngine.open(dir, small);
      const rows = await collect(f.keys({ withValues: true }));
      expect(rows.map((r) => [r.key.toString(), r.value?.toString()])).toEqual([
        ['meta/fine', 'fine-small-value'],
      ]);
      expect(await f.get('meta/damaged')).toBeUndefined();
      await f.close();
    });
  });
});
