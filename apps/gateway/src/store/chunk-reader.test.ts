// lendChunks over a real engine: pooled buffers are never overwritten while a consumer holds them,
// read-ahead never lets a damaged chunk through, and a stopped stream gives its buffers back.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChunkPool } from './chunk-pool.ts';
import { CHUNK_RECORD_SLACK_BYTES, type LentChunk, lendChunks, MissingChunkError } from './chunk-reader.ts';
import { CHUNK_BYTES, chunkKey } from './layout.ts';

const CHUNKS = 5;

function chunkBytes(id: string, i: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK_BYTES);
  const seed = id.charCodeAt(0) * 131 + i * 17;
  for (let j = 0; j < b.length; j += 4) b.writeUInt32LE((j * 2654435761 + seed) >>> 0, j);
  return b;
}

describe('lendChunks', () => {
  let dir: string;
  let engine: BlobEngine;
  const opts = { durability: 'durable' as const, memtableBytes: 4 * CHUNK_BYTES, shards: 1 };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-chunks-'));
    engine = await BlobEngine.open(dir, opts);
    for (const id of ['a', 'b']) {
      for (let i = 0; i < CHUNKS; i++) await engine.put(chunkKey(id, i), chunkBytes(id, i));
    }
  });
  afterEach(async () => {
    await engine.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const parts = (id: string) => [{ id, bytes: CHUNKS * CHUNK_BYTES }];

  it('a held chunk is never overwritten by later reads, from memory or from disk', async () => {
    for (const reopen of [false, true]) {
      if (reopen) {
        await engine.close();
        engine = await BlobEngine.open(dir, opts); // every chunk now comes from a segment read
      }
      const pool = new ChunkPool(CHUNK_BYTES + CHUNK_RECORD_SLACK_BYTES, CHUNKS + 4);
      const held: LentChunk[] = [];
      for await (const c of lendChunks(engine, pool, parts('a'), 0, CHUNKS * CHUNK_BYTES)) held.push(c);
      // Stream b while every chunk of a is still held, releasing b's chunks as we go (so the pool
      // recycles them between b's reads).
      let bChunks = 0;
      for await (const c of lendChunks(engine, pool, parts('b'), 0, CHUNKS * CHUNK_BYTES)) {
        expect(c.bytes.equals(chunkBytes('b', bChunks++))).toBe(true);
        c.release();
      }
      for (const [i, c] of held.entries()) expect(c.bytes.equals(chunkBytes('a', i))).toBe(true);
      expect(new Set(held.map((c) => c.bytes.buffer)).size).toBe(CHUNKS);
      for (const c of held) c.release();
      // Recycled: a's buffers plus, for b, the chunk being consumed and 3 reads (2 ahead) in
      // flight; nothing more per chunk.
      expect(pool.allocated).toBe(CHUNKS + 4);
      expect(pool.pooledBuffers).toBe(CHUNKS + 4);
    }
  });

  it('serves any byte range exactly, across chunk boundaries', async () => {
    const pool = new ChunkPool(CHUNK_BYTES + CHUNK_RECORD_SLACK_BYTES, 4);
    const whole = Buffer.concat(Array.from({ length: CHUNKS }, (_, i) => chunkBytes('a', i)));
    for (const [s, e] of [
      [0, 1],
      [CHUNK_BYTES - 3, CHUNK_BYTES + 5],
      [123, 3 * CHUNK_BYTES + 7],
      [0, CHUNKS * CHUNK_BYTES],
    ] as const) {
      const got: Buffer[] = [];
      for await (const c of lendChunks(engine, pool, parts('a'), s, e)) {
        got.push(Buffer.from(c.bytes));
        c.release();
      }
      expect(Buffer.concat(got).equals(whole.subarray(s, e))).toBe(true);
    }
  });

  it('a damaged chunk read ahead is detected: the stream fails there, nothing of it is yielded', async () => {
    await engine.close();
    // the oldest segment file (ids are zero-padded: name order is id order)
    const seg = join(
      dir,
      (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.seg')).sort()[0]!,
    );
    const bytes = await readFile(seg);
    const at = bytes.indexOf(chunkBytes('a', 2).subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1000] = bytes[at + 1000]! ^ 0x40;
    await writeFile(seg, bytes);
    engine = await BlobEngine.open(dir, opts);
    const pool = new ChunkPool(CHUNK_BYTES + CHUNK_RECORD_SLACK_BYTES, 8);
    const seen: Buffer[] = [];
    const stream = lendChunks(engine, pool, parts('a'), 0, CHUNKS * CHUNK_BYTES, 3);
    await expect(
      (async () => {
        for await (const c of stream) {
          seen.push(Buffer.from(c.bytes));
          c.release();
        }
      })(),
    ).rejects.toBeInstanceOf(MissingChunkError);
    expect(seen.length).toBe(2);
    for (const [i, b] of seen.entries()) expect(b.equals(chunkBytes('a', i))).toBe(true);
    expect(engine.stats().corruptReads).toBe(1);
  });

  it('a stream stopped early gives every buffer back once its read settled', async () => {
    const pool = new ChunkPool(CHUNK_BYTES + CHUNK_RECORD_SLACK_BYTES, 8);
    const stream = lendChunks(engine, pool, parts('a'), 0, CHUNKS * CHUNK_BYTES, 3);
    const first = await stream.next();
    expect(first.done).toBe(false);
    (first.value as LentChunk).release();
    await stream.return(undefined); // reads ahead are still in flight here
    for (let i = 0; i < 50 && pool.freeBuffers < pool.allocated; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(pool.freeBuffers).toBe(pool.allocated);
  });
});
