import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { decodeMeta, encodeFooter } from './meta.ts';
import { SegmentStore } from './segment.ts';
import { withTempDir } from './testutil.ts';

await initKeyHash();

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

describe('SegmentStore', () => {
  it('hazard 5.1-7: a doomed segment is deleted only after in-flight reads finish', async () => {
    await withTempDir(async (dir) => {
      const errors: unknown[] = [];
      const store = new SegmentStore(dir, 2, 8, pino({ level: 'silent' }), (e) => errors.push(e));
      await store.ensureDirs();
      await mkdir(store.shardDir(3), { recursive: true });
      await writeFile(store.segPath(3), Buffer.from('0123456789'));
      await writeFile(store.metaPath(3), Buffer.alloc(0));
      store.register(3, 100, 0, 0);
      const reading = store.read(3, 2, 5);
      await store.doom(3);
      expect(await exists(store.segPath(3))).toBe(true);
      expect((await reading).toString()).toBe('23456');
      for (let i = 0; i < 100 && (await exists(store.segPath(3))); i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(await exists(store.segPath(3))).toBe(false);
      expect(await exists(store.metaPath(3))).toBe(false);
      await expect(store.read(3, 0, 1)).rejects.toThrow(/gone/);
      expect(errors).toEqual([]);
      await store.closeHandles();
    });
  });

  it('dead marks issued in one tick share one append, and land after the footer', async () => {
    await withTempDir(async (dir) => {
      const store = new SegmentStore(dir, 1, 8, pino({ level: 'silent' }), () => undefined);
      await store.ensureDirs();
      const k = Buffer.from('k');
      const footer = encodeFooter(5, [
        { key: k, hash: hashKey(k), pos: 32, len: 44, valueLen: 1, seq: 1, tombstone: false },
      ]);
      await writeFile(store.metaPath(5), footer);
      await writeFile(store.segPath(5), Buffer.alloc(76));
      store.register(5, 100, footer.length, 0);
      await Promise.all([
        store.appendDeadMarks(5, [hashKey(k)]),
        store.appendDeadMarks(5, [hashKey(Buffer.from('x'))]),
      ]);
      const meta = decodeMeta(await readFile(store.metaPath(5)), 100);
      expect(meta?.dead.size).toBe(2);
      expect(meta?.validBytes).toBe(footer.length + 13 + 32 + 4); // one batch of two hashes
      expect(store.get(5)?.metaBytes).toBe(meta?.validBytes);
      // unknown segments are ignored
      await store.appendDeadMarks(99, [hashKey(k)]);
      await store.closeHandles();
    });
  });
});
