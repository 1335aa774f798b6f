import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { withTempDir } from './testutil.ts';

// commitFlush writes a flush's LMDB rows behind (keyindex.ts applyBehind): until lmdb commits
// them, the KeyIndex's pending overlay must answer listings, deletes and reads exactly.
describe('engine flushes written behind', () => {
  it.each(['durable', 'cache'] as const)(
    '%s: keys stay listed, readable and deletable while their LMDB batch is pending',
    async (durability) => {
      await withTempDir(async (dir) => {
        const e = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024 });
        const names = Array.from({ length: 300 }, (_, i) => `obj/${String(i).padStart(4, '0')}`);
        await Promise.all(names.map((n, i) => e.put(n, Buffer.from(`value ${i}`))));
        await e.flush();
        // the last flush's rows were just written behind: lmdb has not committed them yet
        expect(e.keyIndex.pendingBatches).toBeGreaterThan(0);
        expect([...e.keysSync({ withValues: true })].map((x) => x.key.toString())).toEqual(names);
        expect((await e.get(names[299]!))?.toString()).toBe('value 299');
        expect(await e.delete(names[299]!)).toBe(true);
        expect(await e.delete(names[298]!)).toBe(true);
        await e.flush();
        expect([...e.keysSync({})].length).toBe(298);
        await e.keyIndex.settled();
        expect([...e.keysSync({})].length).toBe(298);
        await e.close();
        const again = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024 });
        expect([...again.keysSync({})].map((x) => x.key.toString())).toEqual(names.slice(0, 298));
        await again.close();
      });
    },
  );
});
