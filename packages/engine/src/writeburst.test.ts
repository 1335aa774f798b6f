import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { withTempDir } from './testutil.ts';

// A burst of large puts yields to the event loop every few MiB (engine.ts mustYield) so the WAL
// write (durable) and memtable flushes (both modes) overlap encoding. Writers that yield must keep
// issue order: a later small put or delete of the same key, issued in the same synchronous run,
// must never be overtaken.
describe.each(['durable', 'cache'] as const)('%s write bursts', (durability) => {
  it('keep issue order for the same key across yields, before and after reopen', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability, memtableBytes: 4 << 20 };
      let e = await BlobEngine.open(dir, opts);
      const big = (i: number): Buffer => Buffer.alloc(512 * 1024, i);
      const ops: Promise<unknown>[] = [];
      // 24 x 512 KiB = 12 MiB issued in one synchronous run: several yields and rotations
      for (let i = 1; i <= 24; i++) ops.push(e.put('same', big(i)));
      ops.push(e.put('same', Buffer.from('small, issued last')));
      for (let i = 1; i <= 12; i++) ops.push(e.put(`gone${i}`, big(100 + i)));
      for (let i = 1; i <= 12; i++) ops.push(e.delete(`gone${i}`));
      for (let i = 1; i <= 12; i++) ops.push(e.put(`other${i}`, big(200 + i)));
      const results = await Promise.all(ops);
      expect(results.slice(37, 49)).toEqual(Array(12).fill(true)); // every delete found its put
      const check = async (): Promise<void> => {
        expect((await e.get('same'))?.toString()).toBe('small, issued last');
        for (let i = 1; i <= 12; i++) {
          expect(await e.get(`gone${i}`)).toBeUndefined();
          expect((await e.get(`other${i}`))?.equals(big(200 + i))).toBe(true);
        }
      };
      await check();
      await e.close();
      e = await BlobEngine.open(dir, opts);
      await check();
      await e.close();
    });
  });
});
