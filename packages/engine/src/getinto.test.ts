import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OFFTHREAD_CRC_MIN_BYTES, offloadable } from './crcoffload.ts';
import { BlobEngine } from './engine.ts';
import { RECORD_HEADER_BYTES } from './record.ts';
import { withTempDir } from './testutil.ts';

const VALUE_BYTES = 100_000;

function value(seed: number): Buffer {
  const b = Buffer.allocUnsafe(VALUE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Flips one bit `at` bytes past the first occurrence of `needle` in the oldest segment file. */
async function flipByte(dir: string, needle: Buffer, at: number): Promise<void> {
  // ids are zero-padded: name order is id order
  const name = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.seg')).sort()[0]!;
  const bytes = await readFile(join(dir, name));
  const start = bytes.indexOf(needle);
  expect(start).toBeGreaterThan(0);
  bytes[start + at] = bytes[start + at]! ^ 0x10;
  await writeFile(join(dir, name), bytes);
}

/** Room for a whole record of key `k` (a disk read lands header + key + value in dst). */
function roomFor(k: string): number {
  return RECORD_HEADER_BYTES + Buffer.byteLength(k) + VALUE_BYTES;
}

describe('getInto: reads into the caller buffer', () => {
  it('memtable, read cache and segment reads land in dst and equal get()', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'cache' as const, memtableBytes: 256 * 1024, syncReadMaxBytes: 0 };
      const e = await BlobEngine.open(dir, opts);
      await e.put('a', value(1));
      const dst = Buffer.alloc(roomFor('a'));
      const fromMemtable = await e.getInto('a', dst);
      expect(fromMemtable?.equals(value(1))).toBe(true);
      expect(fromMemtable?.buffer).toBe(dst.buffer); // a view of dst, no allocation
      await e.flush();
      dst.fill(0);
      const fromReadCache = await e.getInto('a', dst);
      expect(e.stats().readCacheHits).toBeGreaterThan(0);
      expect(fromReadCache?.equals(value(1))).toBe(true);
      expect(fromReadCache?.buffer).toBe(dst.buffer);
      // the result is the caller's: writing it never reaches the engine's copy
      fromReadCache?.fill(9);
      expect((await e.get('a'))?.equals(value(1))).toBe(true);
      await e.close();

      const f = await BlobEngine.open(dir, opts); // nothing in memory: a segment read
      dst.fill(0);
      const fromDisk = await f.getInto('a', dst);
      expect(fromDisk?.equals(value(1))).toBe(true);
      expect(fromDisk?.buffer).toBe(dst.buffer);
      expect(await f.getInto('missing', dst)).toBeUndefined();
      await f.close();
    });
  });

  it('a dst too small for the record falls back to a fresh buffer and leaves dst alone', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'cache' as const, memtableBytes: 256 * 1024 };
      const e = await BlobEngine.open(dir, opts);
      await e.put('a', value(2));
      await e.close();
      const f = await BlobEngine.open(dir, opts);
      // big enough for the value but not for header + key + value: a disk read cannot use it
      const dst = Buffer.alloc(VALUE_BYTES).fill(0xee);
      const got = await f.getInto('a', dst);
      expect(got?.equals(value(2))).toBe(true);
      expect(got?.buffer).not.toBe(dst.buffer);
      expect(dst.every((x) => x === 0xee)).toBe(true);
      // a memory hit (the value alone) still fits
      await f.put('b', value(3));
      expect((await f.getInto('b', dst))?.buffer).toBe(dst.buffer);
      await f.close();
    });
  });

  it('a damaged value read into dst is a miss, never the damaged bytes', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'durable' as const, memtableBytes: 256 * 1024, shards: 1 };
      const e = await BlobEngine.open(dir, opts);
      await e.put('bad', value(4));
      await e.put('good', value(5));
      await e.close();
      await flipByte(dir, value(4).subarray(0, 64), 5000);
      const f = await BlobEngine.open(dir, { durability: 'durable', memtableBytes: 256 * 1024 });
      const dst = Buffer.alloc(roomFor('good'));
      expect(await f.getInto('bad', dst)).toBeUndefined();
      expect(f.stats().corruptReads).toBe(1);
      expect((await f.getInto('good', dst))?.equals(value(5))).toBe(true);
      await f.close();
    });
  });
});

describe('getInto with shared memory: the CRC check runs on a worker thread', () => {
  const BIG = OFFTHREAD_CRC_MIN_BYTES * 2;
  const big = (seed: number): Buffer => Buffer.alloc(BIG, seed).fill(seed + 1, 1000, 2000);

  it('verified values read back intact; a damaged one is a miss', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability: 'durable' as const, memtableBytes: 4 * BIG, shards: 1 };
      const e = await BlobEngine.open(dir, opts);
      await e.put('good', big(1));
      await e.put('bad', big(2));
      await e.close();
      await flipByte(dir, big(2).subarray(0, 2000), BIG - 7); // near the value's end
      const f = await BlobEngine.open(dir, opts);
      const dst = Buffer.from(new SharedArrayBuffer(BIG + 4096));
      expect(offloadable(dst)).toBe(true);
      const got = await f.getInto('good', dst);
      expect(got?.buffer).toBe(dst.buffer);
      expect(got?.equals(big(1))).toBe(true);
      expect(await f.getInto('bad', dst)).toBeUndefined();
      expect(f.stats().corruptReads).toBe(1);
      await f.close();
    });
  });
});
