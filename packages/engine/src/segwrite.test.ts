import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { withTempDir } from './testutil.ts';

/** Sizes of the segment files still being written (*.seg.tmp) anywhere under `dir`. */
async function tmpSegmentBytes(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.seg.tmp')) out.push((await stat(join(e.parentPath, e.name))).size);
  }
  return out;
}

// Cache mode writes a filling memtable's segment file every few MiB (engine.ts writeSegAhead),
// so a flush only writes the tail; the file must still end up exactly the memtable's bytes.
describe('cache-mode segment files written while the memtable fills', () => {
  it('are written before the flush and read back exactly after it and after a reopen', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'cache' as const, memtableBytes: 16 << 20 };
      let e = await BlobEngine.open(dir, opts);
      const value = (i: number): Buffer => Buffer.alloc(100_000 + i, i % 251);
      for (let i = 0; i < 100; i++) await e.put(`k${i}`, value(i)); // ~10 MiB: one memtable
      // let the thread pool finish the writes handed over so far
      for (let t = 0; t < 50 && ((await tmpSegmentBytes(dir))[0] ?? 0) < 8 << 20; t++)
        await new Promise((r) => setTimeout(r, 10));
      const written = await tmpSegmentBytes(dir);
      expect(written.length).toBe(1);
      expect(written[0]).toBeGreaterThanOrEqual(8 << 20); // before any flush
      expect(e.stats().segments).toBe(0);
      await e.flush();
      expect(await tmpSegmentBytes(dir)).toEqual([]);
      expect(e.stats().segments).toBe(1);
      for (let i = 0; i < 100; i++) expect((await e.get(`k${i}`))?.equals(value(i))).toBe(true);
      await e.close();
      e = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 100; i++) expect((await e.get(`k${i}`))?.equals(value(i))).toBe(true);
      await e.close();
    });
  });
});
