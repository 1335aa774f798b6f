// Eviction: the cache engine (SIEVE, onFull=evict) keeps the cache under BLOBCACHE_MAX_BYTES while
// a hot object that keeps being read survives a stream of cold fills. Driven through the cache
// layer directly so a small budget can be used (the gateway's schema requires >= 64 MiB).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { type ChildS3rver, S3RVER_KEY, startS3rver, upstreamClient } from './testing/upstream-harness.ts';
import { cacheKey } from './upstream-cache.ts';
import { openUpstreamLayer, type UpstreamLayer } from './upstream-layer.ts';

const BUCKET = 'evict';
const OBJECT_BYTES = 200 * 1024;
const BUDGET_BYTES = 4 * 1024 * 1024;
let s3rver: ChildS3rver;
let upstream: S3Client;
let layer: UpstreamLayer;
let dataDir: string;

beforeAll(async () => {
  s3rver = await startS3rver();
  upstream = upstreamClient(s3rver.port);
  await upstream.send(new CreateBucketCommand({ Bucket: BUCKET }));
  dataDir = await mkdtemp(join(tmpdir(), 'blobcache-evict-'));
  const config = parseConfig({
    dataDir,
    upstreamEndpoint: `http://127.0.0.1:${s3rver.port}`,
    upstreamAccessKeyId: S3RVER_KEY.accessKeyId,
    upstreamSecretAccessKey: S3RVER_KEY.secretAccessKey,
    upstreamForcePathStyle: true,
    cacheTtlMs: 600_000,
  });
  const opened = await openUpstreamLayer({
    config: { ...config, maxBytes: BUDGET_BYTES },
    logger: pino({ level: 'silent' }),
  });
  if (!opened) throw new Error('no layer');
  layer = opened;
});

afterAll(async () => {
  upstream?.destroy();
  await layer?.close();
  await s3rver?.kill();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Fills `key` through the cache (as a miss would) and returns whether it committed. */
async function fill(key: string): Promise<boolean> {
  const r = await layer.cache.refresh(BUCKET, key, undefined).value;
  if (r.kind !== 'fill') throw new Error(`expected a fill, got ${r.kind}`);
  r.fill.start();
  return (await r.fill.done) !== undefined;
}

async function readWhole(key: string): Promise<Buffer | undefined> {
  const obj = await layer.cache.store.openObject(BUCKET, key);
  if (!obj) return undefined;
  try {
    const parts: Buffer[] = [];
    for await (const c of obj.read(0, obj.head.size)) parts.push(c);
    return Buffer.concat(parts);
  } finally {
    obj.release();
  }
}

describe('eviction under BLOBCACHE_MAX_BYTES', { timeout: 60_000 }, () => {
  it('stays within the budget and keeps the hot object while cold fills stream through', async () => {
    const hot = Buffer.alloc(OBJECT_BYTES, 0xab);
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'hot', Body: hot }));
    expect(await fill('hot')).toBe(true);
    const coldCount = 60; // 60 × 200 KiB ≈ 12 MiB through a 4 MiB cache
    for (let i = 0; i < coldCount; i++) {
      const key = `cold/${i}`;
      await upstream.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.alloc(OBJECT_BYTES, i) }),
      );
      expect(await fill(key)).toBe(true);
      // The hot object is read between fills, as a popular object would be.
      expect((await readWhole('hot'))?.equals(hot)).toBe(true);
    }
    const stats = layer.cache.store.engine.stats() as unknown as { liveBytes: number; evictions: number };
    expect(stats.evictions).toBeGreaterThan(0);
    for (let i = 0; i < 200 && layer.cache.store.engine.stats().liveBytes > BUDGET_BYTES; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(layer.cache.store.engine.stats().liveBytes).toBeLessThanOrEqual(BUDGET_BYTES);
    expect((await readWhole('hot'))?.equals(hot)).toBe(true);
    expect(
      layer.cache.isFresh(cacheKey(BUCKET, 'hot'), (await layer.cache.store.getHead(BUCKET, 'hot'))!),
    ).toBe(true);
    // Most cold objects are gone (head or chunks evicted): a read of one is a miss, never wrong bytes.
    let survivors = 0;
    for (let i = 0; i < coldCount; i++) {
      try {
        const got = await readWhole(`cold/${i}`);
        if (got) {
          expect(got.equals(Buffer.alloc(OBJECT_BYTES, i))).toBe(true);
          survivors++;
        }
      } catch (err) {
        expect((err as Error).name).toBe('MissingChunkError');
      }
    }
    expect(survivors).toBeLessThan(coldCount / 2);
  });
});
