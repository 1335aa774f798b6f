import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { EngineClosedError, InvalidKeyError, InvalidValueError, ValueTooLargeError } from './errors.ts';
import { collect, withTempDir } from './testutil.ts';

const modes = ['durable', 'cache'] as const;
const small = { memtableBytes: 64 * 1024 };

describe.each(modes)('BlobEngine (%s mode)', (durability) => {
  it('put/get/view/delete round trip before and after flush', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small });
      await e.put('a', Buffer.from('one'));
      await e.put(new Uint8Array([0x62]), Buffer.from('two'));
      expect((await e.get('a'))?.toString()).toBe('one');
      expect(await e.view('b', (v) => v.toString())).toBe('two');
      expect(await e.get('missing')).toBeUndefined();
      await e.flush();
      expect((await e.get('a'))?.toString()).toBe('one');
      expect(await e.delete('a')).toBe(true);
      expect(await e.delete('a')).toBe(false);
      expect(await e.get('a')).toBeUndefined();
      await e.put('empty', new Uint8Array(0));
      expect((await e.get('empty'))?.length).toBe(0);
      expect(e.stats().items).toBe(2);
      await e.close();
    });
  });

  it('survives close and reopen, including deletes', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small });
      for (let i = 0; i < 200; i++) await e.put(`k${i}`, Buffer.alloc(1000, i));
      await e.delete('k5');
      await e.put('k6', Buffer.from('new'));
      await e.close();
      const f = await BlobEngine.open(dir, { durability, ...small });
      expect(await f.get('k5')).toBeUndefined();
      expect((await f.get('k6'))?.toString()).toBe('new');
      expect((await f.get('k199'))?.equals(Buffer.alloc(1000, 199))).toBe(true);
      expect(f.stats().items).toBe(199);
      const keys = await collect(f.keys({ prefix: 'k1', limit: 5 }));
      expect(keys.map((k) => k.key.toString())).toEqual(['k1', 'k10', 'k100', 'k101', 'k102']);
      await f.close();
    });
  });

  it('lists unflushed puts and hides unflushed deletes, in byte order, with inline values', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small });
      await e.put('b/2', Buffer.from('x'));
      await e.put('b/1', Buffer.from('y'));
      await e.flush();
      await e.put('b/3', Buffer.from('z'));
      await e.put('a/1', Buffer.from('w'));
      await e.delete('b/2');
      const all = await collect(e.keys({ withValues: true }));
      expect(all.map((x) => [x.key.toString(), x.value?.toString()])).toEqual([
        ['a/1', 'w'],
        ['b/1', 'y'],
        ['b/3', 'z'],
      ]);
      const page = await collect(e.keys({ prefix: 'b/', startAfter: 'b/1' }));
      expect(page.map((x) => x.key.toString())).toEqual(['b/3']);
      await e.close();
    });
  });

  it('rejects bad input with typed errors', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small, maxValueBytes: 1024, maxKeyBytes: 1100 });
      await expect(e.put('', Buffer.from('x'))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(e.put('x'.repeat(1101), Buffer.from('x'))).rejects.toBeInstanceOf(InvalidKeyError);
      await e.put('x'.repeat(1100), Buffer.from('x'));
      await expect(e.put('v', Buffer.alloc(1025))).rejects.toBeInstanceOf(ValueTooLargeError);
      await expect(e.put('v', 'str' as unknown as Uint8Array)).rejects.toBeInstanceOf(InvalidValueError);
      await expect(e.get('')).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(e.delete('')).rejects.toBeInstanceOf(InvalidKeyError);
      await e.close();
      await expect(e.get('a')).rejects.toBeInstanceOf(EngineClosedError);
    });
  });

  it('handles a value larger than the memtable (own segment) and 16 MiB values', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, memtableBytes: 1024 * 1024 });
      const big = Buffer.alloc(16 * 1024 * 1024 + 7, 0xab);
      big[12345] = 1;
      await e.put('small', Buffer.from('s'));
      await e.put('big', big);
      await e.put('after', Buffer.from('a'));
      expect((await e.get('big'))?.equals(big)).toBe(true);
      await e.close();
      const f = await BlobEngine.open(dir, { durability, memtableBytes: 1024 * 1024 });
      expect((await f.get('big'))?.equals(big)).toBe(true);
      expect((await f.get('after'))?.toString()).toBe('a');
      await f.close();
    });
  });

  it('flushIntervalMs flushes an idle memtable without an explicit flush()', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, ...small, flushIntervalMs: 20 });
      await e.put('idle', Buffer.from('v'));
      for (let i = 0; i < 200 && e.stats().flushes === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(e.stats().flushes).toBe(1);
      expect(e.stats().segments).toBe(1);
      expect((await e.get('idle'))?.toString()).toBe('v');
      await e.close();
    });
  });
});
