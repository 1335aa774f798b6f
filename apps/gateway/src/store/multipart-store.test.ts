import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES } from './layout.ts';
import type { UploadRecord } from './multipart-records.ts';
import { InvalidPartError, NoSuchUploadError, UploadStore } from './multipart-store.ts';
import type { ObjectStore } from './object-store.ts';
import { openStore } from './open-store.ts';

const logger = pino({ level: 'silent' });
const B = 'bkt';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const uploadFields: Omit<UploadRecord, 'initiatedMs' | 'key'> = {
  contentType: 'text/plain',
  meta: { a: '1' },
  owner: 'k',
};

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.engine.keys({ prefix })) out.push(e.key.toString('latin1'));
  return out;
}

async function putPart(uploads: UploadStore, key: string, uploadId: string, n: number, data: Buffer) {
  const pending = await uploads.beginPart(B, key, uploadId, n);
  await pending.write(once(data), 1 << 30);
  return pending.commit({ etag: md5(data), lastModifiedMs: Date.now(), checksums: {} });
}

describe('UploadStore', () => {
  let dir: string;
  let store: ObjectStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'blobcache-mp-'));
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    await store.createBucket(B, 'us-east-1');
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes by referencing the parts’ data, drops unused parts, and leaves no upload records', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k' });
    const p1 = bytes(CHUNK_BYTES + 5, 1);
    const p2old = bytes(100, 2);
    const p2 = bytes(70, 3);
    const p3 = bytes(10, 4);
    const r1 = await putPart(uploads, 'k', id, 1, p1);
    const old = await putPart(uploads, 'k', id, 2, p2old);
    const r2 = await putPart(uploads, 'k', id, 2, p2); // replaces: old data reclaimed at once
    expect(await keysUnder(store, `d/${old.dataId}/`)).toEqual([]);
    const r3 = await putPart(uploads, 'k', id, 3, p3); // uploaded, not completed: reclaimed
    const head = await uploads.complete({
      bucket: B,
      key: 'k',
      uploadId: id,
      requested: [
        { partNumber: 1, etag: r1.etag },
        { partNumber: 2, etag: r2.etag },
      ],
      check: undefined,
      build: (_u, parts) => ({
        ...uploadFields,
        size: parts.reduce((s, p) => s + p.record.bytes, 0),
        etag: 'x-2',
        lastModifiedMs: 1,
        checksums: {},
        partCount: parts.length,
      }),
    });
    expect(head.parts?.map((p) => p.id)).toEqual([r1.dataId, r2.dataId]);
    expect(await keysUnder(store, `d/${r3.dataId}/`)).toEqual([]);
    expect(await keysUnder(store, `p/${id}/`)).toEqual([]);
    expect(await keysUnder(store, 'u/')).toEqual([]);
    await store.drain();
    expect(await keysUnder(store, 'g/')).toEqual([]);
    const obj = await store.openObject(B, 'k');
    const chunks: Buffer[] = [];
    for await (const c of obj!.read(0, obj!.head.size)) chunks.push(c);
    obj!.release();
    expect(Buffer.concat(chunks).equals(Buffer.concat([p1, p2]))).toBe(true);
    await expect(uploads.require(B, id, 'k')).rejects.toBeInstanceOf(NoSuchUploadError);
  });

  it('keeps the chosen part checksum per part, in a part list stored apart too, across a restart', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k', checksumAlgorithm: 'SHA256' });
    const N = 200; // a part list too large for the head: stored under l/<versionId>
    const sum = (i: number): string => createHash('sha256').update(bytes(10, i)).digest('base64');
    const records = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const pending = await uploads.beginPart(B, 'k', id, i + 1);
        await pending.write(once(bytes(10, i)), 1 << 30);
        return pending.commit({
          etag: md5(bytes(10, i)),
          lastModifiedMs: 1,
          checksums: { CRC64NVME: 'AAAAAAAAAAA=', SHA256: sum(i) },
        });
      }),
    );
    const asked: Array<[string | undefined, number]> = [];
    const head = await uploads.complete({
      bucket: B,
      key: 'k',
      uploadId: id,
      requested: records.map((r, i) => ({ partNumber: i + 1, etag: r.etag })),
      check: undefined,
      partChecksum: (upload, partCount) => {
        asked.push([upload.checksumAlgorithm, partCount]);
        return 'SHA256';
      },
      build: () => ({
        ...uploadFields,
        size: 10 * N,
        etag: `e-${N}`,
        lastModifiedMs: 1,
        checksums: { SHA256: `x-${N}` },
        checksumType: 'COMPOSITE',
        partCount: N,
      }),
    });
    expect(asked).toEqual([['SHA256', N]]);
    expect(head.partsRef).toBe(true);
    const expected = records.map((r, i) => ({ id: r.dataId, bytes: 10, checksum: sum(i) }));
    await store.close();
    store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    const obj = await store.openObject(B, 'k');
    obj!.release();
    expect(obj!.head.parts).toEqual(expected);
  });

  it('refuses a completion naming a missing part or a wrong ETag, and keeps the upload', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k' });
    const r1 = await putPart(uploads, 'k', id, 1, bytes(10, 1));
    const build = () => ({ ...uploadFields, size: 10, etag: 'e', lastModifiedMs: 1, checksums: {} });
    const base = { bucket: B, key: 'k', uploadId: id, check: undefined, build };
    await expect(
      uploads.complete({ ...base, requested: [{ partNumber: 1, etag: 'ffff' }] }),
    ).rejects.toBeInstanceOf(InvalidPartError);
    await expect(
      uploads.complete({
        ...base,
        requested: [
          { partNumber: 1, etag: r1.etag },
          { partNumber: 2, etag: r1.etag },
        ],
      }),
    ).rejects.toBeInstanceOf(InvalidPartError);
    await expect(uploads.complete({ ...base, key: 'other', requested: [] })).rejects.toBeInstanceOf(
      NoSuchUploadError,
    );
    expect((await uploads.listParts(id, 0, 10)).parts.map((p) => p.partNumber)).toEqual([1]);
  });

  it('abort reclaims every part; a part finishing after the abort is discarded', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k' });
    await putPart(uploads, 'k', id, 1, bytes(CHUNK_BYTES * 2, 1));
    const late = await uploads.beginPart(B, 'k', id, 2);
    await late.write(once(bytes(1000, 2)), 1 << 30);
    await uploads.abort(B, 'k', id);
    await expect(late.commit({ etag: 'x', lastModifiedMs: 1, checksums: {} })).rejects.toBeInstanceOf(
      NoSuchUploadError,
    );
    expect(await keysUnder(store, 'd/')).toEqual([]);
    expect(await keysUnder(store, 'p/')).toEqual([]);
    expect(await keysUnder(store, 'u/')).toEqual([]);
    expect(await keysUnder(store, 'g/')).toEqual([]);
  });

  it('uploads older than their bucket are never served, and abortAll reclaims them', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k' });
    const part = await putPart(uploads, 'k', id, 1, bytes(CHUNK_BYTES + 1, 1));
    // The bucket is deleted and created again without the uploads being dropped (a crash between).
    await store.engine.delete(`b/${B}`);
    await new Promise((r) => setTimeout(r, 5));
    await store.createBucket(B, 'us-east-1');
    expect(await uploads.get(B, id, 'k')).toBeUndefined();
    const listed: string[] = [];
    for await (const u of uploads.uploads(B)) listed.push(u.uploadId);
    expect(listed).toEqual([]);
    const fresh = await uploads.create(B, { ...uploadFields, key: 'k' });
    expect(await uploads.abortAll(B, Date.now() - 10_000)).toBe(0);
    expect(await uploads.abortAll(B, (await store.getBucket(B))!.createdMs - 1)).toBe(1);
    expect(await keysUnder(store, `d/${part.dataId}/`)).toEqual([]);
    expect(await keysUnder(store, `p/${id}/`)).toEqual([]);
    expect(await uploads.get(B, fresh, 'k')).toBeDefined();
  });

  it('lists parts in part-number order with pagination, and uploads oldest first', async () => {
    const uploads = UploadStore.of(store);
    const id = await uploads.create(B, { ...uploadFields, key: 'k' });
    for (const n of [10, 2, 1000, 1]) await putPart(uploads, 'k', id, n, bytes(n, n));
    const first = await uploads.listParts(id, 0, 2);
    expect(first.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    expect(first.truncated).toBe(true);
    const rest = await uploads.listParts(id, 2, 5);
    expect(rest.parts.map((p) => p.partNumber)).toEqual([10, 1000]);
    expect(rest.truncated).toBe(false);
    const id2 = await uploads.create(B, { ...uploadFields, key: 'a' });
    const seen: string[] = [];
    for await (const u of uploads.uploads(B)) seen.push(u.uploadId);
    expect(seen).toEqual([id, id2].sort());
  });
});

describe('a 10,000-part upload', () => {
  it('commits parts concurrently, completes with the part list in l/<versionId>, and reads back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blobcache-mp-10k-'));
    const store = await openStore({ dataDir: dir, maxBytes: 0, logger });
    try {
      await store.createBucket(B, 'us-east-1');
      const uploads = UploadStore.of(store);
      const id = await uploads.create(B, { ...uploadFields, key: 'many' });
      const N = 10_000;
      const partBytes = (n: number) => Buffer.from([n & 0xff, (n >> 8) & 0xff]);
      let next = 1;
      const worker = async () => {
        for (let n = next++; n <= N; n = next++) await putPart(uploads, 'many', id, n, partBytes(n));
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      const requested = [];
      for (let after = 0; ; ) {
        const page = await uploads.listParts(id, after, 1000);
        for (const p of page.parts) requested.push({ partNumber: p.partNumber, etag: p.record.etag });
        if (!page.truncated) break;
        after = page.parts[page.parts.length - 1]!.partNumber;
      }
      expect(requested).toHaveLength(N);
      const head = await uploads.complete({
        bucket: B,
        key: 'many',
        uploadId: id,
        requested,
        check: undefined,
        build: (_u, parts) => ({
          ...uploadFields,
          size: parts.reduce((s, p) => s + p.record.bytes, 0),
          etag: `x-${parts.length}`,
          lastModifiedMs: 1,
          checksums: {},
          partCount: parts.length,
        }),
      });
      expect(head.partsRef).toBe(true);
      expect(head.parts).toBeUndefined();
      expect(await keysUnder(store, 'p/')).toEqual([]);
      const obj = await store.openObject(B, 'many');
      expect(obj!.head.parts).toHaveLength(N);
      const chunks: Buffer[] = [];
      for await (const c of obj!.read(2 * 4999, 2 * 5001)) chunks.push(c);
      obj!.release();
      expect(Buffer.concat(chunks)).toEqual(Buffer.concat([partBytes(5000), partBytes(5001)]));
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('multipart crash recovery', () => {
  it('reclaims unacknowledged part data and finishes an interrupted completion on reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blobcache-mp-crash-'));
    try {
      let store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      await store.createBucket(B, 'us-east-1');
      let uploads = UploadStore.of(store);
      const id = await uploads.create(B, { ...uploadFields, key: 'k' });
      const kept = await putPart(uploads, 'k', id, 1, bytes(3000, 1));
      // A part write that never committed (the process "dies" after its chunks were durable).
      const orphan = await uploads.beginPart(B, 'k', id, 2);
      await orphan.write(once(bytes(CHUNK_BYTES + 1, 2)), 1 << 30);
      await store.engine.close(); // "kill -9": no store.close(), intents stay
      store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      uploads = UploadStore.of(store);
      expect(await keysUnder(store, `d/${orphan.dataId}/`)).toEqual([]);
      expect(await keysUnder(store, 'g/')).toEqual([]);
      const parts = await uploads.listParts(id, 0, 10);
      expect(parts.parts.map((p) => p.record.dataId)).toEqual([kept.dataId]);
      expect(await keysUnder(store, `d/${kept.dataId}/`)).toHaveLength(1);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('after a completion committed but not cleaned up, recovery drops the upload and keeps the object', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blobcache-mp-crash-'));
    try {
      let store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      await store.createBucket(B, 'us-east-1');
      let uploads = UploadStore.of(store);
      const id = await uploads.create(B, { ...uploadFields, key: 'k' });
      const p1 = await putPart(uploads, 'k', id, 1, bytes(2000, 1));
      const unused = await putPart(uploads, 'k', id, 2, bytes(2000, 2));
      // Replay the completion's durable steps up to the head put, as if the process died right after.
      const { encodeIntent } = await import('./intent.ts');
      const { intentKey, headKey } = await import('./layout.ts');
      const { encodeHead } = await import('./object-head.ts');
      const versionId = 'c'.repeat(32);
      await store.engine.put(
        intentKey('d'.repeat(32)),
        encodeIntent({
          bucket: B,
          key: 'k',
          dataIds: [],
          replaces: [],
          upload: { uploadId: id, op: 'complete', versionId },
        }),
      );
      await store.engine.put(
        intentKey(versionId),
        encodeIntent({ bucket: B, key: 'k', dataIds: [], replaces: [] }),
      );
      await store.engine.put(
        headKey(B, 'k'),
        encodeHead({
          ...uploadFields,
          versionId,
          size: 2000,
          etag: 'e-1',
          lastModifiedMs: 1,
          checksums: {},
          partCount: 1,
          parts: [{ id: p1.dataId, bytes: 2000 }],
        }),
      );
      await store.engine.close();
      store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      uploads = UploadStore.of(store);
      expect(await keysUnder(store, 'g/')).toEqual([]);
      expect(await keysUnder(store, 'u/')).toEqual([]);
      expect(await keysUnder(store, 'p/')).toEqual([]);
      expect(await keysUnder(store, `d/${unused.dataId}/`)).toEqual([]);
      expect(await keysUnder(store, `d/${p1.dataId}/`)).toHaveLength(1);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a large completed object replaced just before a crash has all its part data reclaimed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blobcache-mp-crash-'));
    try {
      let store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      await store.createBucket(B, 'us-east-1');
      const uploads = UploadStore.of(store);
      const id = await uploads.create(B, { ...uploadFields, key: 'k' });
      const N = 200; // enough parts for the head to keep its part list apart (l/<versionId>)
      const records = await Promise.all(
        Array.from({ length: N }, (_, i) => putPart(uploads, 'k', id, i + 1, bytes(10, i))),
      );
      const head = await uploads.complete({
        bucket: B,
        key: 'k',
        uploadId: id,
        requested: records.map((r, i) => ({ partNumber: i + 1, etag: r.etag })),
        check: undefined,
        build: () => ({ ...uploadFields, size: 10 * N, etag: `e-${N}`, lastModifiedMs: 1, checksums: {} }),
      });
      expect(head.partsRef).toBe(true);
      // An overwrite's durable steps (intent naming the replaced version, then the new head), and the
      // process dies before the replaced chunks are reclaimed.
      const { encodeIntent } = await import('./intent.ts');
      const { intentKey, headKey } = await import('./layout.ts');
      const { encodeHead } = await import('./object-head.ts');
      const newVersion = 'e'.repeat(32);
      await store.engine.put(
        intentKey(newVersion),
        encodeIntent({
          bucket: B,
          key: 'k',
          dataIds: [newVersion],
          replaces: [{ versionId: head.versionId, dataIds: [], partsRef: true }],
        }),
      );
      await store.engine.put(
        headKey(B, 'k'),
        encodeHead({
          ...uploadFields,
          versionId: newVersion,
          size: 0,
          etag: 'x',
          lastModifiedMs: 2,
          checksums: {},
          parts: [{ id: newVersion, bytes: 0 }],
        }),
      );
      await store.engine.close();
      store = await openStore({ dataDir: dir, maxBytes: 0, logger });
      expect(await keysUnder(store, 'd/')).toEqual([]);
      expect(await keysUnder(store, 'l/')).toEqual([]);
      expect(await keysUnder(store, 'g/')).toEqual([]);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
