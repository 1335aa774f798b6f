import { describe, expect, it } from 'vitest';
import { HASH_ALGORITHM, hashKey, initKeyHash } from './keyhash.ts';

await initKeyHash();

describe('key hash (two XXH64 runs)', () => {
  it('is pinned to the published XXH64 vector (on-disk indexes depend on it)', () => {
    // XXH64("", seed 0) = 0xEF46DB3751D8E999: the low 8 bytes, little-endian
    const h = hashKey(new Uint8Array(0));
    expect(h.readBigUInt64LE(0)).toBe(0xef46db3751d8e999n);
    expect(HASH_ALGORITHM).toMatch(/^xxh64x2/);
  });

  it('is deterministic, 16 bytes, and the two halves differ', () => {
    const a = hashKey(Buffer.from('bucket/object'));
    expect(a.length).toBe(16);
    expect(hashKey(Buffer.from('bucket/object')).equals(a)).toBe(true);
    expect(a.subarray(0, 8).equals(a.subarray(8))).toBe(false);
    expect(hashKey(Buffer.from('bucket/object2')).equals(a)).toBe(false);
  });
});
