// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), incremental, slicing-by-8.
// Invariant: update() over any split of the input gives the same digest as one update() over the
// whole input. Hot path: every byte of a CRC32C-checksummed upload passes through here, so the
// inner loop handles 8 bytes per step with eight 256-entry tables instead of a per-byte loop.

const POLY = 0x82f63b78;
const T = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[i] = c;
}
for (let i = 0; i < 256; i++) {
  for (let s = 1; s < 8; s++) {
    const prev = T[(s - 1) * 256 + i]!;
    T[s * 256 + i] = (prev >>> 8) ^ T[prev & 0xff]!;
  }
}

// Word loads read the platform's byte order; the tables assume little-endian words.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
// Below this many 8-byte blocks the Int32Array view costs more than it saves.
const MIN_WORD_BLOCKS = 8;

/** Advance a raw (pre-inverted) CRC-32C state over `data`. */
export function crc32cUpdate(state: number, data: Uint8Array): number {
  let crc = state | 0;
  const n = data.length;
  let i = 0;
  if (LITTLE_ENDIAN && n >= (MIN_WORD_BLOCKS + 1) * 8) {
    // Bytes up to a 4-byte boundary one at a time, then two aligned 32-bit loads per 8 bytes
    // through a view on the same memory (no copy): a quarter of the loads of the byte path.
    while (((data.byteOffset + i) & 3) !== 0) crc = (crc >>> 8) ^ T[(crc ^ data[i++]!) & 0xff]!;
    const blocks = (n - i) >>> 3;
    const w = new Int32Array(data.buffer, data.byteOffset + i, blocks * 2);
    const wn = w.length;
    for (let j = 0; j < wn; j += 2) {
      const a = crc ^ w[j]!;
      const b = w[j + 1]!;
      crc =
        T[1792 + (a & 0xff)]! ^
        T[1536 + ((a >>> 8) & 0xff)]! ^
        T[1280 + ((a >>> 16) & 0xff)]! ^
        T[1024 + (a >>> 24)]! ^
        T[768 + (b & 0xff)]! ^
        T[512 + ((b >>> 8) & 0xff)]! ^
        T[256 + ((b >>> 16) & 0xff)]! ^
        T[b >>> 24]!;
    }
    i += blocks * 8;
  }
  const end8 = n - ((n - i) & 7);
  while (i < end8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const b = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    crc =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + (b & 0xff)]! ^
      T[512 + ((b >>> 8) & 0xff)]! ^
      T[256 + ((b >>> 16) & 0xff)]! ^
      T[b >>> 24]!;
    i += 8;
  }
  while (i < n) crc = (crc >>> 8) ^ T[(crc ^ data[i++]!) & 0xff]!;
  return crc;
}

/** CRC-32C of `data` (or continue from a previous result `value`), as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array, value = 0): number {
  return ~crc32cUpdate(~value, data) >>> 0;
}
