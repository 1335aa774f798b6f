import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveSigningKey, hmacDigest, signingKeyCacheSize } from './signing-key.ts';

describe('hmacDigest', () => {
  it('equals createHmac for alternating keys, UTF-8 and scratch-overflowing messages', () => {
    const keys = [
      deriveSigningKey('s1', '20260101', 'us-east-1', 's3'),
      Buffer.from('short key'),
      Buffer.alloc(64, 7),
      Buffer.alloc(100, 9), // longer than a block: hashed first
    ];
    const messages = ['', 'AWS4-HMAC-SHA256\n20260101T000000Z', 'région ✓ 𝄞', 'x'.repeat(5000)];
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        for (const m of messages) {
          const want = createHmac('sha256', key).update(m, 'utf8').digest();
          expect(hmacDigest(key, m).equals(want)).toBe(true);
        }
      }
    }
  });

  it('notices a key buffer whose bytes changed', () => {
    const key = Buffer.alloc(32, 1);
    const before = hmacDigest(key, 'm');
    key[0] = 2;
    expect(hmacDigest(key, 'm').equals(before)).toBe(false);
    expect(hmacDigest(key, 'm').equals(createHmac('sha256', key).update('m').digest())).toBe(true);
  });
});

describe('deriveSigningKey', () => {
  it('matches the AWS General Reference example (20150830/us-east-1/iam)', () => {
    const key = deriveSigningKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20150830', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9');
  });

  it('caches per (secret, date, region, service) within a bounded size', () => {
    const a = deriveSigningKey('s1', '20260101', 'us-east-1', 's3');
    expect(deriveSigningKey('s1', '20260101', 'us-east-1', 's3')).toBe(a);
    expect(deriveSigningKey('s2', '20260101', 'us-east-1', 's3').equals(a)).toBe(false);
    expect(deriveSigningKey('s1', '20260102', 'us-east-1', 's3').equals(a)).toBe(false);
    expect(deriveSigningKey('s1', '20260101', 'eu-west-1', 's3').equals(a)).toBe(false);
    for (let i = 0; i < 1000; i++) deriveSigningKey(`secret-${i}`, '20260101', 'us-east-1', 's3');
    expect(signingKeyCacheSize()).toBeLessThanOrEqual(256);
    // Evicted entries are re-derived identically.
    expect(deriveSigningKey('s1', '20260101', 'us-east-1', 's3').equals(a)).toBe(true);
  });
});
