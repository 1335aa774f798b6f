import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore as Store } from '../store/object-store.ts';
import { ObjectStore } from '../store/object-store.ts';
import { CacheCounters } from './counters.ts';
import { Fill, type FillSink } from './fill.ts';
import { KeyFence } from './key-fence.ts';

const logger = pino({ level: process.env.BLOBCACHE_TEST_LOG ?? 'silent' });
let dir: string;
let store: Store;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blobcache-fill-'));
  const engine = await BlobEngine.open(dir, { durability: 'cache', memtableBytes: 4 * 1024 * 1024 });
  store = new ObjectStore(engine, logger, 8192);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A body whose pieces are released one by one by the test. */
function gatedBody(pieces: Buffer[], opts: { failAfter?: number } = {}) {
  const gates: Array<() => void> = [];
  const opened = pieces.map(() => new Promise<void>((r) => gates.push(r)));
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < pieces.length; i++) {
      await opened[i];
      if (opts.failAfter === i) throw new Error('upstream connection reset');
      yield pieces[i] as Buffer;
    }
  }
  return { body: body(), open: (i: number) => gates[i]?.() };
}

function collectingSink() {
  const got: Buffer[] = [];
  const state = { ended: false, failed: false, wrote: (_n: number) => {} };
  const sink: FillSink = {
    write: async (p) => {
      got.push(Buffer.from(p));
      state.wrote(got.length);
    },
    end: () => {
      state.ended = true;
    },
    fail: () => {
      state.failed = true;
    },
  };
  return { sink, got, state };
}

const fields = (size: number) => ({
  size,
  etag: 'etag-from-upstream',
  lastModifiedMs: Date.parse('2026-03-04T05:06:07Z'),
  contentType: 'application/x-test',
  cacheControl: 'no-transform',
  meta: { origin: 'upstream' },
  checksums: {},
});

async function chunkKeys(): Promise<number> {
  let n = 0;
  for await (const _ of store.engine.keys({ prefix: 'd/' })) n++;
  return n;
}

describe('Fill', () => {
  it('hands each piece to the leader before the rest of the body exists, then commits byte-identical', async () => {
    const a = Buffer.alloc(1500_000, 1);
    const b = Buffer.from('tail');
    const gated = gatedBody([a, b]);
    const fence = new KeyFence();
    const { sink, got, state } = collectingSink();
    const firstPiece = new Promise<void>((r) => {
      state.wrote = () => r();
    });
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'k',
      fields: fields(a.length + b.length),
      body: gated.body,
      ticket: fence.beginRead('bkt/k'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start(sink);
    gated.open(0);
    await firstPiece; // piece 2 is still gated: the leader did not wait for the whole object
    expect(got.length).toBe(1);
    expect(await store.getHead('bkt', 'k')).toBeUndefined();
    gated.open(1);
    const head = await fill.done;
    expect(head).toMatchObject({
      etag: 'etag-from-upstream',
      size: a.length + 4,
      meta: { origin: 'upstream' },
    });
    expect(state.ended).toBe(true);
    const obj = await store.openObject('bkt', 'k');
    const parts: Buffer[] = [];
    for await (const c of obj?.read(0, a.length + 4) ?? []) parts.push(c);
    obj?.release();
    expect(Buffer.concat(parts).equals(Buffer.concat([a, b]))).toBe(true);
    expect(fence.size).toBe(0);
  });

  it('never commits a short body, discards its chunks and cuts the leader off', async () => {
    const gated = gatedBody([Buffer.alloc(2_000_000, 7)]);
    gated.open(0);
    const { sink, state } = collectingSink();
    const counters = new CacheCounters();
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'short',
      fields: fields(3_000_000),
      body: gated.body,
      ticket: new KeyFence().beginRead('bkt/short'),
      counters,
      logger,
    });
    fill.start(sink);
    expect(await fill.done).toBeUndefined();
    expect(state.failed).toBe(true);
    expect(await store.getHead('bkt', 'short')).toBeUndefined();
    await store.drain();
    expect(await chunkKeys()).toBe(0);
    expect(counters.values.fillsAborted).toBe(1);
  });

  it('never commits when the upstream body fails midway', async () => {
    const gated = gatedBody([Buffer.alloc(1_200_000, 1), Buffer.alloc(10, 2)], { failAfter: 1 });
    gated.open(0);
    gated.open(1);
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'broken',
      fields: fields(1_200_010),
      body: gated.body,
      ticket: new KeyFence().beginRead('bkt/broken'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start();
    expect(await fill.done).toBeUndefined();
    expect(await store.getHead('bkt', 'broken')).toBeUndefined();
    expect(await chunkKeys()).toBe(0);
  });

  it('does not commit when a write-through write started during the fill (delete vs fill race)', async () => {
    const gated = gatedBody([Buffer.from('old bytes')]);
    const fence = new KeyFence();
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'raced',
      fields: fields(9),
      body: gated.body,
      ticket: fence.beginRead('bkt/raced'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start();
    const write = fence.beginWrite('bkt/raced'); // e.g. DELETE accepted upstream meanwhile
    gated.open(0);
    expect(await fill.done).toBeUndefined();
    write.end();
    expect(await store.getHead('bkt', 'raced')).toBeUndefined();
  });

  it('lets followers read chunks as they land, and fails them (never short) when the fill aborts', async () => {
    const one = Buffer.alloc(1024 * 1024, 4);
    const gated = gatedBody([one, Buffer.alloc(100, 5)], { failAfter: 1 });
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'followed',
      fields: fields(one.length + 100),
      body: gated.body,
      ticket: new KeyFence().beginRead('bkt/followed'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start();
    const first = fill.chunk(0);
    gated.open(0);
    expect((await first).equals(one)).toBe(true); // landed while piece 2 is still gated
    const second = fill.chunk(1);
    gated.open(1); // the upstream body fails: chunk 1 never lands
    await expect(second).rejects.toThrow(/aborted/);
    expect(await fill.done).toBeUndefined();
  });

  it('still delivers the whole object to the leader when the cache store fails mid-fill', async () => {
    let chunkPuts = 0;
    const failing = Object.create(store.engine) as typeof store.engine;
    failing.put = (key, value) => {
      if (String(key).startsWith('d/') && ++chunkPuts > 1) return Promise.reject(new Error('disk on fire'));
      return store.engine.put(key, value);
    };
    const brittle = new ObjectStore(failing, logger, 8192);
    const pieces = [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(1024 * 1024, 2), Buffer.alloc(1000, 3)];
    const gated = gatedBody(pieces);
    pieces.forEach((_, i) => {
      gated.open(i);
    });
    const { sink, got, state } = collectingSink();
    const fill = new Fill({
      store: brittle,
      bucket: 'bkt',
      key: 'brittle',
      fields: fields(2 * 1024 * 1024 + 1000),
      body: gated.body,
      ticket: new KeyFence().beginRead('bkt/brittle'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start(sink);
    expect(await fill.done).toBeUndefined();
    expect(state.failed).toBe(false);
    expect(state.ended).toBe(true);
    expect(Buffer.concat(got).equals(Buffer.concat(pieces))).toBe(true);
    expect(await store.getHead('bkt', 'brittle')).toBeUndefined();
  });

  it('keeps filling for followers after the leader went away', async () => {
    const gated = gatedBody([Buffer.from('abc'), Buffer.from('def')]);
    let gone = false;
    const sink: FillSink = {
      write: async () => {
        gone = true; // a disconnected leader accepts nothing and does not block
      },
      end: () => {},
      fail: () => {},
    };
    const fill = new Fill({
      store,
      bucket: 'bkt',
      key: 'headless',
      fields: fields(6),
      body: gated.body,
      ticket: new KeyFence().beginRead('bkt/headless'),
      counters: new CacheCounters(),
      logger,
    });
    fill.start(sink);
    gated.open(0);
    gated.open(1);
    expect((await fill.done)?.size).toBe(6);
    expect(gone).toBe(true);
  });
});
