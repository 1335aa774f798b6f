import { describe, expect, it } from 'vitest';
import { deriveSigningKey, signingKeyCacheSize } from './signing-key.ts';

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
