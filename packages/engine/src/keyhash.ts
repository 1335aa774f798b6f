// Invariant: a key's 128-bit hash is the same bytes on every run and platform: two XXH64 runs with
// fixed, distinct seeds, stored lo-run little-endian then hi-run little-endian. Changing this
// changes HASH_ALGORITHM (recorded in the marker file) because on-disk indexes depend on it.

import xxhash from 'xxhash-wasm';

export const HASH_ALGORITHM = 'xxh64x2-seed0-9e3779b97f4a7c15';
const SEED_LO = 0n;
const SEED_HI = 0x9e3779b97f4a7c15n;

type H64Raw = (input: Uint8Array, seed?: bigint) => bigint;
let h64Raw: H64Raw | undefined;

/** Loads the wasm hasher once; every engine open awaits it. */
export async function initKeyHash(): Promise<void> {
  if (h64Raw) return;
  const api = await xxhash();
  h64Raw = api.h64Raw;
}

/** 16-byte hash: [lo u64 LE][hi u64 LE]. */
export function hashKey(key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(16);
  hashKeyInto(key, out);
  return out;
}

/** Scratch for the two u64 halves: DataView BigInt stores beat splitting BigInts into u32s. */
const scratch = Buffer.allocUnsafeSlow(16);
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, 16);

export function hashKeyInto(key: Uint8Array, out: Buffer): void {
  const fn = h64Raw;
  if (!fn) throw new Error('initKeyHash() must be awaited before hashing');
  scratchView.setBigUint64(0, fn(key, SEED_LO), true);
  scratchView.setBigUint64(8, fn(key, SEED_HI), true);
  out.set(scratch);
}
