import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { heldReads } from '../testing/held-reads.ts';
import { HeadCache } from './head-cache.ts';
import type { ObjectHead } from './object-head.ts';
import { type HeadFields, ObjectStore } from './object-store.ts';

const logger = pino({ level: 'silent' });
const head = (versionId: string): ObjectHead => ({
  versionId,
  size: 0,
  etag: versionId,
  lastModifiedMs: 0,
  contentType: 'x',
  meta: {},
  checksums: {},
  parts: [],
});

describe('HeadCache', () => {
  it('keeps an engine read only if no head changed since it started; LRU within the byte budget', () => {
    const c = new HeadCache(2000);
    const g = c.generation;
    c.changing('a');
    c.changed('a', head('new'), 10);
    c.offer('a', head('old'), 10, g);
    expect(c.get('a')?.versionId).toBe('new');
    c.offer('b', head('b'), 10, c.generation);
    expect(c.get('b')?.versionId).toBe('b');
    c.changing('b');
    expect(c.get('b')).toBeUndefined();
    for (let i = 0; i < 20; i++) c.offer(`k${i}`, head(`k${i}`), 100, c.generation);
    expect(c.size).toBeLessThan(10);
    expect(c.get('k19')?.versionId).toBe('k19');
    expect(c.get('k0')).toBeUndefined();
  });
});

describe('ObjectStore with a head cache', () => {
  it('a head read that started before an overwrite never reinstalls the old head', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blobcache-headcache-'));
    const engine = await BlobEngine.open(dir, { durability: 'durable', maxInlineValueBytes: 8192, logger });
    const reads = heldReads(engine);
    const port = reads.port;
    const writer = new ObjectStore(port, logger, 8192);
    // A fresh cache over the same engine, so its first read of the key goes to the engine.
    const store = new ObjectStore(port, logger, 8192, { headCacheBytes: 1 << 20 });
    const put = async (s: ObjectStore, data: string): Promise<string> => {
      const w = await s.beginWrite('b', 'k');
      await w.write([Buffer.from(data)] as unknown as AsyncIterable<Uint8Array>, 100);
      const f: HeadFields = {
        size: data.length,
        etag: data,
        lastModifiedMs: 0,
        contentType: 'x',
        meta: {},
        checksums: {},
      };
      return (await w.commit(f)).versionId;
    };
    try {
      await writer.createBucket('b', 'us-east-1');
      const v1 = await put(writer, 'one');
      reads.hold(1);
      const slow = store.getHead('b', 'k'); // reads v1 now, delivers it late
      const v2 = await put(store, 'two');
      reads.releaseAll();
      expect((await slow)?.versionId).toBe(v1);
      expect((await store.getHead('b', 'k'))?.versionId).toBe(v2);
      await store.deleteObject('b', 'k');
      expect(await store.getHead('b', 'k')).toBeUndefined();
    } finally {
      await store.drain();
      await writer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
