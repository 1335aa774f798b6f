import { describe, expect, it } from 'vitest';
import { BloomFilter } from './bloom.ts';
import { hashKey, initKeyHash } from './keyhash.ts';

await initKeyHash();
const h = (i: number): Buffer => hashKey(Buffer.from(`k${i}`));

describe('BloomFilter', () => {
  it('has no false negatives and a false-positive rate near the target', () => {
    const b = new BloomFilter(20_000, 0.01);
    for (let i = 0; i < 20_000; i++) b.add(h(i));
    for (let i = 0; i < 20_000; i++) expect(b.test(h(i))).toBe(true);
    let fp = 0;
    for (let i = 20_000; i < 70_000; i++) if (b.test(h(i))) fp++;
    expect(fp / 50_000).toBeLessThan(0.03);
  });

  it('records additions while a rebuild runs, and reports overflow', () => {
    const b = new BloomFilter(1024, 0.01);
    b.startRecording(2);
    b.add(h(1));
    b.add(h(2));
    expect(b.stopRecording()?.length).toBe(2);
    b.startRecording(1);
    b.add(h(1));
    b.add(h(2));
    expect(b.stopRecording()).toBeUndefined();
    expect(b.isRecording).toBe(false);
  });
});
