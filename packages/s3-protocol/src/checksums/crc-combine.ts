// Combining CRCs of consecutive byte ranges into the CRC of their concatenation, without the
// data: crc(A‖B) from crc(A), crc(B) and len(B). This is how a FULL_OBJECT checksum of a
// multipart upload is derived from its parts' checksums. Invariant: for every supported CRC
// (reflected, init and xorout all ones: CRC32, CRC32C, CRC64NVME), combine(crc(A), crc(B), |B|)
// equals crc(A‖B) exactly.
//
// The method is zlib's: multiply crc(A) by x^(8·len(B)) modulo the polynomial, then xor crc(B).
// BigInt keeps one code path for 32- and 64-bit CRCs; it runs once per part at completion time,
// never per byte.

import type { ChecksumAlgorithm } from './hashers.ts';

type CrcAlgorithm = Extract<ChecksumAlgorithm, 'CRC32' | 'CRC32C' | 'CRC64NVME'>;

interface CrcSpec {
  width: number;
  reflectedPoly: bigint;
  /** x^(2^k) mod P for k = 0..63, in reflected representation. */
  x2n: bigint[];
}

function multModP(spec: CrcSpec, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(spec.width - 1);
  let p = 0n;
  let bb = b;
  for (;;) {
    if (a & m) {
      p ^= bb;
      if ((a & (m - 1n)) === 0n) break;
    }
    m >>= 1n;
    bb = bb & 1n ? (bb >> 1n) ^ spec.reflectedPoly : bb >> 1n;
  }
  return p;
}

function makeSpec(width: number, reflectedPoly: bigint): CrcSpec {
  const spec: CrcSpec = { width, reflectedPoly, x2n: [] };
  let p = 1n << BigInt(width - 2); // x^1
  spec.x2n.push(p);
  for (let k = 1; k < 64; k++) {
    p = multModP(spec, p, p);
    spec.x2n.push(p);
  }
  return spec;
}

const SPECS: Record<CrcAlgorithm, CrcSpec> = {
  CRC32: makeSpec(32, 0xedb88320n),
  CRC32C: makeSpec(32, 0x82f63b78n),
  CRC64NVME: makeSpec(64, 0x9a6c9329ac4bc9b5n),
};

/** x^(8·bytes) mod P. */
function xPow8n(spec: CrcSpec, bytes: number): bigint {
  let p = 1n << BigInt(spec.width - 1); // x^0
  let n = BigInt(bytes);
  let k = 3; // 8 = 2^3
  while (n > 0n) {
    if (n & 1n) p = multModP(spec, spec.x2n[k % 64]!, p);
    n >>= 1n;
    k++;
  }
  return p;
}

function toBigInt(digest: Uint8Array): bigint {
  let v = 0n;
  for (const b of digest) v = (v << 8n) | BigInt(b);
  return v;
}

function toBytes(value: bigint, width: number): Buffer {
  const out = Buffer.alloc(width / 8);
  let v = value;
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** True for the algorithms whose values can be combined (the CRCs). */
export function isCombinable(algorithm: ChecksumAlgorithm): algorithm is CrcAlgorithm {
  return algorithm === 'CRC32' || algorithm === 'CRC32C' || algorithm === 'CRC64NVME';
}

/**
 * The CRC of the concatenation of consecutive parts, from each part's raw CRC digest and byte
 * length (a FULL_OBJECT multipart checksum).
 */
export function combineCrcs(
  algorithm: CrcAlgorithm,
  parts: readonly { digest: Uint8Array; length: number }[],
): Buffer {
  const spec = SPECS[algorithm];
  let crc = 0n; // CRC of the empty string for all three algorithms
  // Parts mostly share one size: reuse the last x^(8·len) instead of recomputing it.
  let powLength = -1;
  let pow = 0n;
  for (const part of parts) {
    if (part.digest.length !== spec.width / 8)
      throw new RangeError(`${algorithm} digest must be ${spec.width / 8} bytes`);
    const c2 = toBigInt(part.digest);
    if (part.length !== powLength) {
      pow = xPow8n(spec, part.length);
      powLength = part.length;
    }
    crc = part.length === 0 ? crc ^ c2 : multModP(spec, pow, crc) ^ c2;
  }
  return toBytes(crc, spec.width);
}
