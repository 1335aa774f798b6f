import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, chunkKey, headKey, intentKey } from './layout.ts';
import { walkListing } from './list-walk.ts';
import { BucketGoneError, type HeadFields, type ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';

const logger = pino({ level: 'silent' });

function fields(size: number, etag = 'e'): HeadFields {
  return {
    size,
    etag,
    lastModifiedMs: Date.now(),
    contentType: 'binary/octet-stream',
    meta: {},
    checksums: {},
  };
}

async function* chunksOf(buf: Buffer, piece = 100_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += piece) yield buf.subarray(i, i + piece);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

async function putBytes(store: ObjectStore, bucket: string, key: string, data: Buffer): Promise<string> {
  const w = await store.beginWrite(bucket, key);
  await w.write(chunksOf(data), Number.MAX_SAFE_INTEGER);
  const head = await w.commit(fields(data.length));
  return head.versionId;
}

describe('ObjectStore', () => {
  let dir: string;
  let store: ObjectStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-store-'));
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    await store.createBucket('bkt', 'us-east-1');
  });
  afterEach(async () => {
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('stores multi-chunk objects and reads any byte range back', async () => {
    const data = Buffer.alloc(2 * CHUNK_BYTES + 12345);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    await putBytes(store, 'bkt', 'big', data);
    const obj = await store.openObject('bkt', 'big');
    expect(obj?.head.size).toBe(data.length);
    expect((await collect(obj!.read(0, data.length))).equals(data)).toBe(true);
    const from = CHUNK_BYTES - 10;
    const to = 2 * CHUNK_BYTES + 5;
    expect((await collect(obj!.read(from, to))).equals(data.subarray(from, to))).toBe(true);
    obj!.release();
  });

  it('a reader that started before an overwrite sees the whole old object; old chunks go afterwards', async () => {
    const oldData = Buffer.alloc(CHUNK_BYTES + 10, 1);
    const oldVersion = await putBytes(store, 'bkt', 'k', oldData);
    const reader = await store.openObject('bkt', 'k');
    await putBytes(store, 'bkt', 'k', Buffer.alloc(50, 2));
    await store.drain();
    expect(await store.engine.get(chunkKey(oldVersion, 0))).toBeDefined();
    expect((await collect(reader!.read(0, oldData.length))).equals(oldData)).toBe(true);
    reader!.release();
    await store.drain();
    expect(await store.engine.get(chunkKey(oldVersion, 0))).toBeUndefined();
    expect(await store.engine.get(intentKey(oldVersion))).toBeUndefined();
    const now = await store.openObject('bkt', 'k');
    expect((await collect(now!.read(0, 50))).equals(Buffer.alloc(50, 2))).toBe(true);
    now!.release();
  });

  it('a failed precondition discards the new version and keeps the old object', async () => {
    await putBytes(store, 'bkt', 'k', Buffer.from('old'));
    const w = await store.beginWrite('bkt', 'k');
    await w.write(chunksOf(Buffer.from('new')), 100);
    await expect(
      w.commit(fields(3), (cur) => {
        if (cur) throw new Error('exists');
      }),
    ).rejects.toThrow('exists');
    expect(await store.engine.get(chunkKey(w.versionId, 0))).toBeUndefined();
    expect(await store.engine.get(intentKey(w.versionId))).toBeUndefined();
    expect((await store.getHead('bkt', 'k'))?.size).toBe(3);
  });

  it('recovery reclaims chunks orphaned by a crash mid-write and keeps committed objects', async () => {
    await putBytes(store, 'bkt', 'kept', Buffer.from('kept'));
    // Simulate a crash: intent and chunks written, head never put, process gone.
    const w = await store.beginWrite('bkt', 'orphan');
    await w.write(chunksOf(Buffer.alloc(CHUNK_BYTES + 1, 3)), Number.MAX_SAFE_INTEGER);
    await store.engine.close();
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    expect(await store.engine.get(chunkKey(w.versionId, 0))).toBeUndefined();
    expect(await store.engine.get(chunkKey(w.versionId, 1))).toBeUndefined();
    expect(await store.engine.get(intentKey(w.versionId))).toBeUndefined();
    expect(await store.getHead('bkt', 'orphan')).toBeUndefined();
    const kept = await store.openObject('bkt', 'kept');
    expect((await collect(kept!.read(0, 4))).toString()).toBe('kept');
    kept!.release();
  });

  it('recovery reclaims a replaced version whose reclaim was pending at the crash', async () => {
    const v1 = await putBytes(store, 'bkt', 'k', Buffer.from('one'));
    const reader = await store.openObject('bkt', 'k'); // blocks v1's reclaim
    await putBytes(store, 'bkt', 'k', Buffer.from('two'));
    expect(reader).toBeDefined();
    await store.engine.close(); // crash with v1 unreclaimed
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    expect(await store.engine.get(chunkKey(v1, 0))).toBeUndefined();
    const now = await store.openObject('bkt', 'k');
    expect((await collect(now!.read(0, 3))).toString()).toBe('two');
    now!.release();
  });

  it('deletes objects and refuses to delete a non-empty bucket', async () => {
    const v = await putBytes(store, 'bkt', 'a', Buffer.from('x'));
    expect(await store.deleteBucket('bkt')).toBe('not-empty');
    expect(await store.deleteObject('bkt', 'a')).toBe(true);
    expect(await store.deleteObject('bkt', 'a')).toBe(false);
    await store.drain();
    expect(await store.engine.get(chunkKey(v, 0))).toBeUndefined();
    expect(await store.engine.get(headKey('bkt', 'a'))).toBeUndefined();
    expect(await store.deleteBucket('bkt')).toBe('deleted');
    expect(await store.deleteBucket('bkt')).toBe('missing');
  });

  it('walks listings with common prefixes skipped in one seek', async () => {
    for (const k of ['a/1', 'a/2', 'a/3', 'b', 'c/x/y', 'c/z', 'd'])
      await putBytes(store, 'bkt', k, Buffer.from(k));
    const got: string[] = [];
    for await (const e of walkListing(store.engine, 'bkt', { prefix: '', delimiter: '/', batchSize: 2 })) {
      got.push(e.kind === 'object' ? e.key : `P:${e.prefix}`);
    }
    expect(got).toEqual(['P:a/', 'b', 'P:c/', 'd']);
    const after: string[] = [];
    const startAfter = Buffer.concat([Buffer.from('a/'), Buffer.from([0xff])]);
    for await (const e of walkListing(store.engine, 'bkt', { prefix: '', delimiter: '/', startAfter })) {
      after.push(e.kind === 'object' ? e.key : `P:${e.prefix}`);
    }
    expect(after).toEqual(['b', 'P:c/', 'd']);
    const inC: string[] = [];
    for await (const e of walkListing(store.engine, 'bkt', { prefix: 'c/', delimiter: '/' })) {
      inC.push(e.kind === 'object' ? e.key : `P:${e.prefix}`);
    }
    expect(inC).toEqual(['P:c/x/', 'c/z']);
  });

  it('a bucket with a write in flight is not deleted; a deleted bucket takes no new writes', async () => {
    const w = await store.beginWrite('bkt', 'inflight');
    expect(await store.deleteBucket('bkt')).toBe('not-empty');
    await w.write(chunksOf(Buffer.from('x')), 10);
    await w.abort();
    expect(await store.deleteBucket('bkt')).toBe('deleted');
    await expect(store.beginWrite('bkt', 'late')).rejects.toBeInstanceOf(BucketGoneError);
  });

  it('close waits for a write in flight to abort, so its clean-up reaches the engine', async () => {
    const w = await store.beginWrite('bkt', 'cut');
    let cut!: (err: Error) => void;
    const cutNow = new Promise<never>((_, reject) => {
      cut = reject;
    });
    // Two chunks written (intent recorded), then the client's socket is destroyed mid-body.
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(CHUNK_BYTES, 1);
      yield Buffer.alloc(CHUNK_BYTES, 2);
      await cutNow;
    }
    const writing = w.write(body(), Number.MAX_SAFE_INTEGER).catch(async (err: unknown) => {
      await w.abort();
      throw err;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = store.close();
    cut(new Error('socket destroyed'));
    await expect(writing).rejects.toThrow('socket destroyed');
    await closing;

    const engine = await BlobEngine.open(join(dir, 'engine'), { durability: 'durable' });
    try {
      expect(await engine.get(intentKey(w.versionId))).toBeUndefined();
      expect(await engine.get(chunkKey(w.versionId, 0))).toBeUndefined();
      expect(await engine.get(chunkKey(w.versionId, 1))).toBeUndefined();
    } finally {
      await engine.close();
    }
  });

  it('uses the real engine type', () => {
    expect(store.engine).toBeInstanceOf(BlobEngine);
  });
});
