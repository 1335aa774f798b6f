import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { withTempDir } from './testutil.ts';

// commitFlush writes a flush's LMDB rows behind (keyindex.ts applyBehind): until lmdb commits
// them, the KeyIndex's pending overlay must answer listings, deletes and reads exactly.

/** Waits for the memtable flushes but not for their LMDB commit (flush() waits for both). */
function flushNotSettled(e: BlobEngine): Promise<void> {
  return (e as unknown as { flushInternal(): Promise<void> }).flushInternal();
}
describe('engine flushes written behind', () => {
  it.each(['durable', 'cache'] as const)(
    '%s: keys stay listed, readable and deletable while their LMDB batch is pending',
    async (durability) => {
      await withTempDir(async (dir) => {
        const e = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024 });
        const names = Array.from({ length: 3000 }, (_, i) => `obj/${String(i).padStart(4, '0')}`);
        await Promise.all(names.map((n, i) => e.put(n, Buffer.from(`value ${i}`))));
        await flushNotSettled(e);
        // the last flush's rows were just written behind: lmdb has not committed them yet
        expect(e.keyIndex.pendingBatches).toBeGreaterThan(0);
        expect([...e.keysSync({ withValues: true })].map((x) => x.key.toString())).toEqual(names);
        expect((await e.get(names[2999]!))?.toString()).toBe('value 2999');
        expect(await e.delete(names[2999]!)).toBe(true);
        expect(await e.delete(names[2998]!)).toBe(true);
        await flushNotSettled(e);
        expect([...e.keysSync({})].length).toBe(2998);
        await e.flush(); // waits for the LMDB commit too
        expect(e.keyIndex.pendingBatches).toBe(0);
        expect([...e.keysSync({})].length).toBe(2998);
        await e.close();
        const again = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024 });
        expect([...again.keysSync({})].map((x) => x.key.toString())).toEqual(names.slice(0, 2998));
        await again.close();
      });
    },
  );
});
