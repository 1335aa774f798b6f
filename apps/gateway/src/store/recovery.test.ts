// Startup recovery logs its progress (intent replay, multipart part cleanup) from a real crash
// state: intents and data left behind by writes that never committed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeIntent } from './intent.ts';
import { chunkKey, intentKey, newId } from './layout.ts';
import { UploadStore } from './multipart-store.ts';
import type { ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';

type Line = Record<string, unknown> & { msg: string };

function capturingLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

const silent = pino({ level: 'silent' });

describe('startup recovery progress', () => {
  let dir: string;
  let store: ObjectStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('logs intent replay and part cleanup progress with counts and an ETA, and reclaims the data', async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-recovery-'));
    store = await openStore({ dataDir: dir, maxBytes: 0, logger: silent });
    await store.createBucket('bkt', 'us-east-1');
    // 30 writes cut by a "crash": intent and data written, head never put.
    const orphans: string[] = [];
    for (let i = 0; i < 30; i++) {
      const w = await store.beginWrite('bkt', `o${i}`);
      await w.write(once(Buffer.alloc(20_000, i)), Number.MAX_SAFE_INTEGER);
      orphans.push(w.versionId);
    }
    // An upload of 12 parts whose abort was cut after its intent was written.
    const uploads = UploadStore.of(store);
    const uploadId = await uploads.create('bkt', {
      key: 'mp',
      contentType: 'binary/octet-stream',
      meta: {},
      owner: 'k',
    });
    for (let n = 1; n <= 12; n++) {
      const part = await uploads.beginPart('bkt', 'mp', uploadId, n);
      await part.write(once(Buffer.alloc(10_000, n)), 1 << 30);
      await part.commit({ etag: `e${n}`, lastModifiedMs: Date.now(), checksums: {} });
    }
    await store.engine.put(
      intentKey(newId()),
      encodeIntent({
        bucket: 'bkt',
        key: 'mp',
        dataIds: [],
        replaces: [],
        upload: { uploadId, op: 'abort' },
      }),
    );
    await store.engine.close(); // the crash: no reclaim ran

    const { logger, lines } = capturingLogger();
    store = await openStore({ dataDir: dir, maxBytes: 0, logger, progressLogIntervalMs: 0 });

    const replay = lines.filter((l) => l.msg === 'write-intent replay progress');
    expect(lines.find((l) => l.msg === 'write-intent replay is taking a while')).toMatchObject({
      total: 31,
      unit: 'intents',
    });
    expect(replay.map((l) => l.done)).toEqual(replay.map((_, i) => i + 1));
    expect(replay.at(-1)).toMatchObject({ done: 31, total: 31, etaSeconds: 0 });
    for (const l of replay) expect(typeof l.etaSeconds).toBe('number');
    expect(lines.find((l) => l.msg === 'write-intent replay finished')).toMatchObject({
      done: 31,
      intents: 31,
    });

    const parts = lines.filter((l) => l.msg === 'multipart part cleanup progress');
    expect(parts.at(-1)).toMatchObject({ done: 12, total: 12, unit: 'parts', bytes: 120_000 });
    expect(lines.find((l) => l.msg === 'multipart part cleanup finished')).toMatchObject({
      uploadId,
      reclaimed: 12,
    });

    for (const v of orphans) expect(await store.engine.get(chunkKey(v, 0))).toBeUndefined();
    const left: string[] = [];
    for await (const e of store.engine.keys({ prefix: 'g/' })) left.push(e.key.toString());
    expect(left).toEqual([]);
  }, 60_000);

  it('a clean restart logs no recovery progress', async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-recovery-'));
    store = await openStore({ dataDir: dir, maxBytes: 0, logger: silent });
    await store.createBucket('bkt', 'us-east-1');
    await store.close();
    const { logger, lines } = capturingLogger();
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    expect(lines.filter((l) => / (progress|is taking a while|finished)$/.test(l.msg))).toEqual([]);
  });
});
