import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { KeyIndex } from './keyindex.ts';
import { withTempDir } from './testutil.ts';

await initKeyHash();
const log = pino({ level: 'silent' });
const put = (k: string, v?: string) => {
  const key = Buffer.from(k);
  return {
    kind: 'put' as const,
    key,
    hash: hashKey(key),
    valueLen: v?.length ?? 100_000,
    inline: v === undefined ? undefined : Buffer.from(v),
  };
};

describe('KeyIndex (LMDB)', () => {
  it('stores rows in byte order, windows by after/end, deletes only matching rows', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'ki');
      const { index, fresh } = await KeyIndex.open(path, 'fp1', log);
      expect(fresh).toBe(true);
      index.apply([put('b', 'B'), put('a', 'A'), put('c'), put('\u00e9'), put('ab', 'AB')]);
      const all = index.window(undefined, undefined, undefined, 100).map((r) => r.key.toString());
      expect(all).toEqual(['a', 'ab', 'b', 'c', '\u00e9']);
      const w = index.window(Buffer.from('a'), Buffer.from('a'), Buffer.from('b'), 10);
      expect(w.map((r) => r.key.toString())).toEqual(['ab']);
      expect(index.get(Buffer.from('ab'))?.inline?.toString()).toBe('AB');
      expect(index.get(Buffer.from('c'))?.inline).toBeUndefined();
      expect(index.get(Buffer.from('c'))?.valueLen).toBe(100_000);
      expect(index.keyForHash(hashKey(Buffer.from('b')))?.toString()).toBe('b');
      // a delete carrying another hash leaves the row alone
      index.apply([{ kind: 'del', key: Buffer.from('a'), hash: hashKey(Buffer.from('zz')) }]);
      expect(index.get(Buffer.from('a'))).toBeDefined();
      index.apply([{ kind: 'del', key: Buffer.from('a'), hash: hashKey(Buffer.from('a')) }]);
      expect(index.get(Buffer.from('a'))).toBeUndefined();
      expect(index.count()).toBe(4);
      await index.close();
      await KeyIndex.markClean(path, 'fp1');
      const again = await KeyIndex.open(path, 'fp1', log);
      expect(again.fresh).toBe(false);
      expect(again.index.count()).toBe(4);
      await again.index.close();
    });
  });

  it('is rebuilt (fresh) when not cleanly closed, for another segment set, or damaged', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'ki');
      const a = await KeyIndex.open(path, 'fp', log);
      a.index.apply([put('x', 'X')]);
      await a.index.close();
      // no markClean: a crash
      const b = await KeyIndex.open(path, 'fp', log);
      expect(b.fresh).toBe(true);
      expect(b.index.count()).toBe(0);
      b.index.apply([put('y', 'Y')]);
      await b.index.close();
      await KeyIndex.markClean(path, 'fp');
      const c = await KeyIndex.open(path, 'other', log);
      expect(c.fresh).toBe(true);
      await c.index.close();
      await KeyIndex.markClean(path, 'fp');
      await writeFile(join(path, 'data.mdb'), Buffer.alloc(100)); // damaged
      const d = await KeyIndex.open(path, 'fp', log);
      expect(d.fresh).toBe(true);
      await d.index.close();
    });
  });
});
