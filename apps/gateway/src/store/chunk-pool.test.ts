import { describe, expect, it } from 'vitest';
import { ChunkPool } from './chunk-pool.ts';

describe('ChunkPool', () => {
  it('never hands out a buffer that a lease still holds', () => {
    const pool = new ChunkPool(64, 4);
    const held = [pool.acquire(), pool.acquire(), pool.acquire()];
    for (const [i, l] of held.entries()) l.buffer.fill(i + 1);
    const buffers = new Set(held.map((l) => l.buffer.buffer));
    expect(buffers.size).toBe(3);
    held[1]!.release();
    const next = pool.acquire(); // may reuse only the released one
    expect(next.buffer.buffer).toBe(held[1]!.buffer.buffer);
    next.buffer.fill(9);
    expect(held[0]!.buffer.every((x) => x === 1)).toBe(true);
    expect(held[2]!.buffer.every((x) => x === 3)).toBe(true);
    expect(pool.acquire().buffer.buffer).not.toBe(next.buffer.buffer);
  });

  it('ignores a second release of a lease (no buffer is ever pooled twice)', () => {
    const pool = new ChunkPool(64, 4);
    const a = pool.acquire();
    a.release();
    a.release();
    expect(pool.freeBuffers).toBe(1);
    const b = pool.acquire();
    const c = pool.acquire();
    expect(b.buffer.buffer).not.toBe(c.buffer.buffer);
  });

  it('pools at most maxBuffers; past that it hands out buffers of their own, never reused', () => {
    const pool = new ChunkPool(4096, 2);
    const leases = Array.from({ length: 5 }, () => pool.acquire());
    expect(pool.allocated).toBe(5);
    expect(pool.pooledBuffers).toBe(2);
    for (const l of leases) {
      expect(l.buffer.length).toBe(4096);
      expect(l.buffer.byteOffset).toBe(0);
      expect(l.buffer.buffer.byteLength).toBe(4096); // not a slice of Node's shared pool
      l.release();
    }
    expect(pool.freeBuffers).toBe(2);
    const pooled = new Set(leases.slice(0, 2).map((l) => l.buffer.buffer));
    const again = [pool.acquire(), pool.acquire(), pool.acquire()];
    expect(pooled.has(again[0]!.buffer.buffer) && pooled.has(again[1]!.buffer.buffer)).toBe(true);
    for (const l of leases.slice(2)) expect(l.buffer.buffer).not.toBe(again[2]!.buffer.buffer);
  });
});
