import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { hashKey, initKeyHash } from './keyhash.ts';
import { KeyIndex } from './keyindex.ts';
import { rng, withTempDir } from './testutil.ts';

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

describe('KeyIndex writes behind (pending overlay)', () => {
  const rnd = rng(0x2545f491);

  it('answers every read exactly like the committed state would, while batches are pending', async () => {
    await withTempDir(async (dir) => {
      const { index } = await KeyIndex.open(join(dir, 'ki'), 'fp', log);
      const model = new Map<string, string | undefined>(); // key -> inline value (undefined: not inline)
      const keyName = (i: number): string => `k${String(i).padStart(3, '0')}`;
      const expectSame = (): void => {
        const want = [...model.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(index.window(undefined, undefined, undefined, 1000).map((r) => r.key.toString())).toEqual(
          want,
        );
        // random windows: from / after / end / limit
        for (let t = 0; t < 5; t++) {
          const from = Buffer.from(keyName(rnd(60)));
          const after = rnd(2) === 0 ? Buffer.from(keyName(rnd(60))) : undefined;
          const end = rnd(2) === 0 ? Buffer.from(keyName(rnd(60))) : undefined;
          const limit = 1 + rnd(10);
          const lo = after && Buffer.compare(after, from) >= 0 ? after : undefined;
          const exp = want
            .filter((k) =>
              lo ? Buffer.compare(Buffer.from(k), lo) > 0 : Buffer.compare(Buffer.from(k), from) >= 0,
            )
            .filter((k) => !end || Buffer.compare(Buffer.from(k), end) < 0)
            .slice(0, limit);
          const got = index.window(from, lo, end, limit).map((r) => r.key.toString());
          expect(got).toEqual(exp);
        }
        for (let i = 0; i < 60; i++) {
          const k = Buffer.from(keyName(i));
          const h = hashKey(k);
          const row = index.get(k);
          if (!model.has(keyName(i))) {
            expect(row).toBeUndefined();
            expect(index.keyForHash(h)).toBeUndefined();
            continue;
          }
          const v = model.get(keyName(i));
          expect(row?.hash.equals(h)).toBe(true);
          expect(row?.inline?.toString()).toBe(v);
          expect(index.keyForHash(h)?.toString()).toBe(keyName(i));
          if (v !== undefined) expect(index.inlineValue(k, h, v.length)?.toString()).toBe(v);
        }
      };
      for (let round = 0; round < 40; round++) {
        const ops = [];
        const n = 1 + rnd(12);
        for (let j = 0; j < n; j++) {
          const name = keyName(rnd(60));
          if (rnd(3) === 0) {
            // a delete, sometimes carrying a foreign hash (must leave the row alone)
            const foreign = rnd(4) === 0;
            ops.push({
              kind: 'del' as const,
              key: Buffer.from(name),
              hash: hashKey(Buffer.from(foreign ? 'zz' : name)),
            });
            if (!foreign) model.delete(name);
          } else {
            const v = rnd(3) === 0 ? undefined : `v${round}-${j}`;
            ops.push(put(name, v));
            model.set(name, v);
          }
        }
        if (rnd(3) === 0) index.apply(ops);
        else index.applyBehind(ops);
        // not after every batch: several pending batches then materialize on the first read
        if (rnd(2) === 0) expectSame();
        if (rnd(4) === 0) {
          await index.settled();
          expect(index.pendingBatches).toBe(0);
          expectSame();
        }
      }
      await index.settled();
      expectSame();
      expect(index.count()).toBe(model.size);
      await index.close();
    });
  });

  it('close() waits for batches written behind', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'ki');
      const a = await KeyIndex.open(path, 'fp', log);
      a.index.applyBehind([put('x', 'X'), put('y')]);
      expect(a.index.pendingBatches).toBe(1);
      await a.index.close();
      await KeyIndex.markClean(path, 'fp');
      const b = await KeyIndex.open(path, 'fp', log);
      expect(b.fresh).toBe(false);
      expect(b.index.count()).toBe(2);
      expect(b.index.get(Buffer.from('x'))?.inline?.toString()).toBe('X');
      await b.index.close();
    });
  });
});
