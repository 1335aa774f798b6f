// Small objects live in their head record: one engine put (one durable WAL sync) per small PUT,
// no chunks, no intent; overwrites across the inline/chunked boundary reclaim exactly the dead data;
// an open that read a head just before an overwrite keeps that version readable.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HeldReads, heldReads } from '../testing/held-reads.ts';
import { chunkKey, chunkPrefix, headKey, INTENT_PREFIX } from './layout.ts';
import { walkListing } from './list-walk.ts';
import { type HeadFields, MAX_INLINE_DATA_BYTES, ObjectStore } from './object-store.ts';

const logger = pino({ level: 'silent' });
const MAX_INLINE_HEAD_BYTES = 8192;

function fields(size: number, meta: Record<string, string> = {}): HeadFields {
  return { size, etag: 'e', lastModifiedMs: Date.now(), contentType: 'x', meta, checksums: {} };
}

async function* pieces(buf: Buffer, piece = 1000): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += piece) yield buf.subarray(i, i + piece);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const p of it) out.push(p);
  return Buffer.concat(out);
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('inline objects', () => {
  let dir: string;
  let engine: BlobEngine;
  let store: ObjectStore;
  let reads: HeldReads;

  const syncs = (): number => engine.stats().walSyncs;
  const put = async (key: string, data: Buffer, meta?: Record<string, string>): Promise<string> => {
    const w = await store.beginWrite('b', key);
    await w.write(pieces(data), Number.MAX_SAFE_INTEGER);
    return (await w.commit(fields(data.length, meta))).versionId;
  };
  const keysUnder = async (prefix: string): Promise<number> => {
    let n = 0;
    for await (const _ of engine.keys({ prefix })) n++;
    return n;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-inline-'));
    engine = await BlobEngine.open(join(dir, 'engine'), {
      durability: 'durable',
      maxInlineValueBytes: MAX_INLINE_HEAD_BYTES,
      logger,
    });
    // The real engine, except that a held head read delivers its (already read) result late.
    reads = heldReads(engine);
    store = new ObjectStore(reads.port, logger, MAX_INLINE_HEAD_BYTES);
    await store.createBucket('b', 'us-east-1');
  });
  afterEach(async () => {
    await store.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('a small PUT of a new key, or over a small object, is one durable sync; no chunk, no intent', async () => {
    const data = pattern(4096, 1);
    let before = syncs();
    const v1 = await put('small', data);
    await store.drain();
    expect(syncs() - before).toBe(1);
    expect(await keysUnder(chunkPrefix(v1))).toBe(0);
    expect(await keysUnder(INTENT_PREFIX)).toBe(0);

    before = syncs();
    await put('small', pattern(MAX_INLINE_DATA_BYTES, 2));
    await store.drain();
    expect(syncs() - before).toBe(1);

    const obj = await store.openObject('b', 'small');
    expect(obj?.head.parts).toEqual([]);
    expect(
      (await collect(obj!.read(0, MAX_INLINE_DATA_BYTES))).equals(pattern(MAX_INLINE_DATA_BYTES, 2)),
    ).toBe(true);
    expect(
      (await collect(obj!.read(10, 20))).equals(pattern(MAX_INLINE_DATA_BYTES, 2).subarray(10, 20)),
    ).toBe(true);
    expect(await collect(obj!.read(5, 5))).toHaveLength(0);
    obj!.release();

    // Listings decode the head without the bytes getting in the way.
    const listed = [];
    for await (const e of walkListing(engine, 'b', { prefix: '' })) listed.push(e);
    expect(listed).toMatchObject([{ kind: 'object', key: 'small', head: { size: MAX_INLINE_DATA_BYTES } }]);
  });

  it('an empty object is inline too', async () => {
    await put('empty', Buffer.alloc(0));
    const obj = await store.openObject('b', 'empty');
    expect(obj?.head.size).toBe(0);
    expect(await collect(obj!.read(0, 0))).toHaveLength(0);
    obj!.release();
  });

  it('one byte over the inline limit goes to chunks (with its intent), and reads back', async () => {
    const data = pattern(MAX_INLINE_DATA_BYTES + 1, 3);
    const v = await put('edge', data);
    const obj = await store.openObject('b', 'edge');
    expect(obj?.head.parts).toEqual([{ id: v, bytes: data.length }]);
    expect(obj?.head.inline).toBeUndefined();
    expect((await collect(obj!.read(0, data.length))).equals(data)).toBe(true);
    obj!.release();
    await store.drain();
    expect(await keysUnder(INTENT_PREFIX)).toBe(0);
  });

  it('a small body whose head would not fit (large metadata) is stored as a chunk', async () => {
    const meta = { big: 'm'.repeat(2000) };
    const data = pattern(MAX_INLINE_DATA_BYTES, 4);
    const v = await put('meta', data, meta);
    const obj = await store.openObject('b', 'meta');
    expect(obj?.head.inline).toBeUndefined();
    expect(obj?.head.meta).toEqual(meta);
    expect((await collect(obj!.read(0, data.length))).equals(data)).toBe(true);
    obj!.release();
    expect(await engine.get(chunkKey(v, 0))).toBeDefined();
  });

  it('overwrites across the inline/chunked boundary reclaim exactly the dead chunks', async () => {
    const big = await put('k', pattern(100_000, 5));
    await put('k', pattern(100, 6));
    await store.drain();
    expect(await keysUnder(chunkPrefix(big))).toBe(0);
    expect(await keysUnder(INTENT_PREFIX)).toBe(0);
    const big2 = await put('k', pattern(200_000, 7));
    await store.drain();
    expect(await keysUnder(chunkPrefix(big2))).toBe(1);
    const obj = await store.openObject('b', 'k');
    expect((await collect(obj!.read(0, 200_000))).equals(pattern(200_000, 7))).toBe(true);
    obj!.release();
    // Deleting an inline object writes no intent: one durable sync.
    await put('k', pattern(10, 8));
    await store.drain();
    const before = syncs();
    expect(await store.deleteObject('b', 'k')).toBe(true);
    await store.drain();
    expect(syncs() - before).toBe(1);
    expect(await engine.get(headKey('b', 'k'))).toBeUndefined();
    expect(await keysUnder('d/')).toBe(0);
  });

  it('an open whose head read was overtaken by an overwrite still reads the whole old version', async () => {
    const oldData = pattern(300_000, 9);
    const oldVersion = await put('race', oldData);
    reads.hold(1, (key) => key.startsWith('o/'));
    const opening = store.openObject('b', 'race');
    // The open has read the old head but not pinned it yet; the overwrite commits meanwhile.
    await put('race', pattern(50, 10));
    await store.drain();
    expect(await engine.get(chunkKey(oldVersion, 0))).toBeDefined();
    reads.releaseAll();
    const reader = await opening;
    expect(reader?.head.versionId).toBe(oldVersion);
    await store.drain();
    expect((await collect(reader!.read(0, oldData.length))).equals(oldData)).toBe(true);
    reader!.release();
    await store.drain();
    expect(await keysUnder(chunkPrefix(oldVersion))).toBe(0);
    expect(await keysUnder(INTENT_PREFIX)).toBe(0);
  });
});
