// CRC-64/NVME (polynomial 0xAD93D23594C93659, reflected 0x9A6C9329AC4BC9B5, init and xorout all
// ones), incremental, slicing-by-8 on two 32-bit halves (no BigInt on the hot path).
// Invariant: update() over any split of the input gives the same digest as one update() over the
// whole input; the 64-bit state is exactly (hi << 32 | lo).

const POLY_HI = 0x9a6c9329 | 0;
const POLY_LO = 0xac4bc9b5 | 0;
const LO = new Int32Array(8 * 256);
const HI = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi = hi >>> 1;
    if (carry) {
      lo ^= POLY_LO;
      hi ^= POLY_HI;
    }
  }
  LO[i] = lo;
  HI[i] = hi;
}
for (let i = 0; i < 256; i++) {
  for (let s = 1; s < 8; s++) {
    const pLo = LO[(s - 1) * 256 + i]!;
    const pHi = HI[(s - 1) * 256 + i]!;
    const idx = pLo & 0xff;
    LO[s * 256 + i] = ((pLo >>> 8) | (pHi << 24)) ^ LO[idx]!;
    HI[s * 256 + i] = (pHi >>> 8) ^ HI[idx]!;
  }
}

/** Mutable CRC-64/NVME state as two 32-bit halves (pre-inverted, as the register holds it). */
export interface Crc64State {
  hi: number;
  lo: number;
}

/** A fresh state (all ones). */
export function crc64nvmeInit(): Crc64State {
  return { hi: -1, lo: -1 };
}

// Word loads read the platform's byte order; the tables assume little-endian words.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
// Below this many 8-byte blocks the Int32Array view costs more than it saves.
const MIN_WORD_BLOCKS = 8;

/** Advance `state` over `data` in place. */
export function crc64nvmeUpdate(state: Crc64State, data: Uint8Array): void {
  let lo = state.lo | 0;
  let hi = state.hi | 0;
  const n = data.length;
  let i = 0;
  if (LITTLE_ENDIAN && n >= (MIN_WORD_BLOCKS + 1) * 8) {
    // Bytes up to a 4-byte boundary one at a time, then two aligned 32-bit loads per 8 bytes
    // through a view on the same memory (no copy): a quarter of the loads of the byte path.
    while (((data.byteOffset + i) & 3) !== 0) {
      const idx = (lo ^ data[i++]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
      hi = (hi >>> 8) ^ HI[idx]!;
    }
    const blocks = (n - i) >>> 3;
    const w = new Int32Array(data.buffer, data.byteOffset + i, blocks * 2);
    const wn = w.length;
    for (let j = 0; j < wn; j += 2) {
      const a = lo ^ w[j]!;
      const b = hi ^ w[j + 1]!;
      const i7 = 1792 + (a & 0xff);
      const i6 = 1536 + ((a >>> 8) & 0xff);
      const i5 = 1280 + ((a >>> 16) & 0xff);
      const i4 = 1024 + (a >>> 24);
      const i3 = 768 + (b & 0xff);
      const i2 = 512 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = LO[i7]! ^ LO[i6]! ^ LO[i5]! ^ LO[i4]! ^ LO[i3]! ^ LO[i2]! ^ LO[i1]! ^ LO[i0]!;
      hi = HI[i7]! ^ HI[i6]! ^ HI[i5]! ^ HI[i4]! ^ HI[i3]! ^ HI[i2]! ^ HI[i1]! ^ HI[i0]!;
    }
    i += blocks * 8;
  }
  const end8 = n - ((n - i) & 7);
  while (i < end8) {
    const a = lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const b = hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24));
    const i7 = 1792 + (a & 0xff);
    const i6 = 1536 + ((a >>> 8) & 0xff);
    const i5 = 1280 + ((a >>> 16) & 0xff);
    const i4 = 1024 + (a >>> 24);
    const i3 = 768 + (b & 0xff);
    const i2 = 512 + ((b >>> 8) & 0xff);
    const i1 = 256 + ((b >>> 16) & 0xff);
    const i0 = b >>> 24;
    lo = LO[i7]! ^ LO[i6]! ^ LO[i5]! ^ LO[i4]! ^ LO[i3]! ^ LO[i2]! ^ LO[i1]! ^ LO[i0]!;
    hi = HI[i7]! ^ HI[i6]! ^ HI[i5]! ^ HI[i4]! ^ HI[i3]! ^ HI[i2]! ^ HI[i1]! ^ HI[i0]!;
    i += 8;
  }
  while (i < n) {
    const idx = (lo ^ data[i++]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
    hi = (hi >>> 8) ^ HI[idx]!;
  }
  state.lo = lo;
  state.hi = hi;
}

/** The 8-byte big-endian digest of a state (after the final inversion). */
export function crc64nvmeDigest(state: Crc64State): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(~state.hi >>> 0, 0);
  out.writeUInt32BE(~state.lo >>> 0, 4);
  return out;
}
