import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Of, OFFTHREAD_CRC_MIN_BYTES, offloadable } from './crcoffload.ts';

describe('crc32Of', () => {
  const BIG = OFFTHREAD_CRC_MIN_BYTES * 2;

  it('agrees with zlib, on the worker for large shared bytes and here for the rest', async () => {
    const shared = Buffer.from(new SharedArrayBuffer(BIG));
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 131) & 0xff;
    const plain = Buffer.from(shared);
    expect(offloadable(shared.subarray(3))).toBe(true);
    expect(offloadable(plain)).toBe(false);
    expect(offloadable(shared.subarray(0, OFFTHREAD_CRC_MIN_BYTES - 1))).toBe(false);
    expect(await crc32Of(shared.subarray(3))).toBe(crc32(plain.subarray(3)) >>> 0);
    expect(await crc32Of(plain)).toBe(crc32(plain) >>> 0);
  });

  it('answers many checks in flight, each for its own bytes', async () => {
    const views = Array.from({ length: 8 }, (_, k) => Buffer.from(new SharedArrayBuffer(BIG)).fill(k + 1));
    const crcs = await Promise.all(views.map((v) => crc32Of(v)));
    views.forEach((v, k) => {
      expect(crcs[k]).toBe(crc32(Buffer.from(v)) >>> 0);
    });
  });
});
