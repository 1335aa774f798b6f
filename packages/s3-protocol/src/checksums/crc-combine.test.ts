import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { combineCrcs, isCombinable } from './crc-combine.ts';
import { hashBytes } from './hashers.ts';

describe('combineCrcs', () => {
  it('equals the CRC of the concatenation for CRC32, CRC32C and CRC64NVME', () => {
    const sizes = [0, 1, 7, 4096, 100_000, 5 * 1024 * 1024 + 3];
    const parts = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(parts);
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
      const combined = combineCrcs(
        alg,
        parts.map((p) => ({ digest: hashBytes(alg, p), length: p.length })),
      );
      expect(combined.toString('hex'), alg).toBe(hashBytes(alg, whole).toString('hex'));
    }
  });

  it('handles no parts and one part', () => {
    expect(combineCrcs('CRC32', []).toString('hex')).toBe('00000000');
    const p = randomBytes(33);
    expect(
      combineCrcs('CRC64NVME', [{ digest: hashBytes('CRC64NVME', p), length: 33 }]).equals(
        hashBytes('CRC64NVME', p),
      ),
    ).toBe(true);
  });

  it('rejects digests of the wrong width and knows which algorithms combine', () => {
    expect(() => combineCrcs('CRC32', [{ digest: Buffer.alloc(8), length: 1 }])).toThrow(RangeError);
    expect(isCombinable('CRC32C')).toBe(true);
    expect(isCombinable('SHA256')).toBe(false);
  });
});
