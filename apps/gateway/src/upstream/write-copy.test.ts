// Write-through PUTs leave a cached copy: real gateway, real SDK clients, s3rver as the upstream
// behind a counting proxy. Upstream GET counts and `x-cache` prove that the first read after a
// write is a hit, that rejected or raced writes leave nothing behind, and that a DELETE racing a
// PUT is never undone by the PUT's cached copy.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client, type TestGateway } from '../testing/harness.ts';
import {
  type CountingProxy,
  startCachingGateway,
  startUpstreamRig,
  type UpstreamRig,
} from './testing/upstream-harness.ts';

const BUCKET = 'origin';
let proxy: CountingProxy;
let upstream: S3Client;
let gw: TestGateway;
let client: S3Client;

let rig: UpstreamRig;

beforeAll(async () => {
  rig = await startUpstreamRig(BUCKET, { cacheTtlMs: 600_000, negativeTtlMs: 600_000 });
  ({ proxy, upstream, gw, client } = rig);
});

afterAll(async () => {
  await rig?.stop();
});

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 29 + seed) & 0xff;
  return b;
}

type Fetched = { status: number; headers: Headers; body: Buffer };

async function gwFetch(g: TestGateway, key: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Fetched> {
  const c = s3Client(g);
  const command =
    method === 'HEAD'
      ? new HeadObjectCommand({ Bucket: BUCKET, Key: key })
      : new GetObjectCommand({ Bucket: BUCKET, Key: key });
  const url = await getSignedUrl(c, command, { expiresIn: 300 });
  c.destroy();
  const res = await fetch(url, { method });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const objectPath = (key: string) => `/${BUCKET}/${key}`;

async function metric(g: TestGateway, name: string): Promise<number> {
  const text = await (await fetch(`${g.url}/_blobcache/metrics`)).text();
  const m = new RegExp(`^blobcache_upstream_${name}_total (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('write-through PUT leaves a cached copy', { timeout: 60_000 }, () => {
  it('the next GET and HEAD hit, byte-identical, with what the upstream reports (no upstream GET)', async () => {
    for (const [key, body] of [
      ['wc/chunked.bin', bytes(2 * 1024 * 1024 + 123, 1)],
      ['wc/inline.txt', Buffer.from('small enough to live in the head record')],
      ['wc/empty', Buffer.alloc(0)],
    ] as const) {
      const put = await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: body,
          ContentType: 'application/x-written',
          CacheControl: 'no-transform',
          Metadata: { author: 'Gateway', n: '1' },
        }),
      );
      const upHead = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      const got = await gwFetch(gw, key);
      expect(got.status).toBe(200);
      expect(got.headers.get('x-cache')).toBe('HIT');
      expect(got.body.equals(body)).toBe(true);
      expect(got.headers.get('etag')).toBe(put.ETag);
      expect(got.headers.get('etag')).toBe(upHead.ETag);
      expect(got.headers.get('last-modified')).toBe(upHead.LastModified?.toUTCString());
      expect(got.headers.get('content-length')).toBe(String(body.length));
      expect(got.headers.get('content-type')).toBe('application/x-written');
      expect(got.headers.get('cache-control')).toBe('no-transform');
      expect(got.headers.get('x-amz-meta-author')).toBe('Gateway');
      expect(got.headers.get('x-amz-meta-n')).toBe('1');
      const head = await gwFetch(gw, key, 'HEAD');
      expect(head.headers.get('x-cache')).toBe('HIT');
      expect(head.headers.get('etag')).toBe(upHead.ETag);
      expect(proxy.count('GET', objectPath(key))).toBe(0);
    }
  });

  it('a streamed (aws-chunked) PUT and an overwrite also leave the new bytes cached', async () => {
    const key = 'wc/stream.bin';
    const first = bytes(1_300_000, 2);
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: Readable.from([first.subarray(0, 500_000), first.subarray(500_000)]),
        ContentLength: first.length,
      }),
    );
    const a = await gwFetch(gw, key);
    expect(a.headers.get('x-cache')).toBe('HIT');
    expect(a.body.equals(first)).toBe(true);
    const second = bytes(40_000, 3);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: second }));
    const b = await gwFetch(gw, key);
    expect(b.headers.get('x-cache')).toBe('HIT');
    expect(b.body.equals(second)).toBe(true);
    expect(proxy.count('GET', objectPath(key))).toBe(0);
  });

  it('a later revalidation sends the upstream ETag and keeps the copy on 304', async () => {
    const g = await startCachingGateway(proxy.port, { cacheTtlMs: 0 });
    try {
      const key = 'wc/revalidated';
      const body = bytes(300_000, 4);
      const put = await s3Client(g).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      const r = await gwFetch(g, key);
      expect(r.headers.get('x-cache')).toBe('REVALIDATED');
      expect(r.body.equals(body)).toBe(true);
      const asked = proxy.seen.filter((s) => s.method === 'GET' && s.path === objectPath(key));
      expect(asked.map((s) => s.headers['if-none-match'])).toEqual([put.ETag]);
    } finally {
      await g.stop();
    }
  });

  it('a PUT the upstream rejects leaves no cached copy (and drops the old one)', async () => {
    const key = 'wc/rejected';
    const old = Buffer.from('old upstream bytes');
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: old }));
    expect((await gwFetch(gw, key)).headers.get('x-cache')).toBe('MISS');
    expect((await gwFetch(gw, key)).headers.get('x-cache')).toBe('HIT');
    const cachedBefore = await metric(gw, 'write_cached');
    proxy.failWith(500);
    try {
      await expect(
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes(200_000, 5) })),
      ).rejects.toThrow();
    } finally {
      proxy.failWith(undefined);
    }
    expect(await metric(gw, 'write_cached')).toBe(cachedBefore);
    const after = await gwFetch(gw, key);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body.equals(old)).toBe(true);
    // A rejected PUT of a new key: nothing to serve, the upstream's 404 is the answer.
    proxy.failWith(500);
    try {
      await expect(
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wc/rejected-new', Body: 'x' })),
      ).rejects.toThrow();
    } finally {
      proxy.failWith(undefined);
    }
    const none = await gwFetch(gw, 'wc/rejected-new');
    expect(none.status).toBe(404);
    expect(none.headers.get('x-cache')).toBe('MISS');
  });

  it('a PUT whose body fails verification leaves no cached copy', async () => {
    const key = 'wc/bad-md5';
    const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: key }), {
      expiresIn: 60,
    });
    const res = await fetch(url, {
      method: 'PUT',
      body: 'the bytes sent',
      headers: { 'content-md5': createHash('md5').update('other bytes').digest('base64') },
    });
    expect(res.status).toBe(400);
    const after = await gwFetch(gw, key);
    expect(after.status).toBe(404);
    expect(after.headers.get('x-cache')).toBe('MISS');
  });

  it('a DELETE racing a PUT never resurrects: the overlapped PUT installs nothing', async () => {
    const key = 'wc/raced';
    const body = bytes(1_100_000, 6);
    // The upstream stores the PUT now, the gateway hears of it only after the DELETE went through.
    proxy.hold((r) => r.method === 'PUT' && r.path === objectPath(key));
    const putting = client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    await eventually(() => proxy.count('PUT', objectPath(key)) === 1, 'the PUT upstream');
    const deleter = s3Client(gw);
    try {
      // Wait until the upstream really has the PUT's object, then delete it through the gateway.
      for (let i = 0; i < 400; i++) {
        const ok = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
          () => true,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await deleter.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    } finally {
      deleter.destroy();
      proxy.release();
    }
    await putting; // the upstream accepted it: the client is told so
    const after = await gwFetch(gw, key);
    expect(after.status).toBe(404);
    expect(after.headers.get('x-cache')).toBe('MISS');
  });

  it("a DELETE completing between the PUT's confirming HEAD and its commit is not undone", async () => {
    const key = 'wc/raced-head';
    const body = bytes(700_000, 9);
    // The HEAD that confirms the PUT is answered by the upstream (object present) at once, but the
    // gateway hears it only after a DELETE went through completely: only the fence can tell.
    proxy.hold((r) => r.method === 'HEAD' && r.path === objectPath(key));
    const putting = client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const deleter = s3Client(gw);
    try {
      await eventually(() => proxy.count('HEAD', objectPath(key)) === 1, 'the confirming HEAD');
      await deleter.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    } finally {
      deleter.destroy();
      proxy.release();
    }
    await putting;
    const after = await gwFetch(gw, key);
    expect(after.status).toBe(404);
    expect(after.headers.get('x-cache')).toBe('MISS');
  });

  it('a PUT overlapping a DELETE still in flight installs nothing either', async () => {
    const key = 'wc/raced-2';
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'before' }));
    proxy.hold((r) => r.method === 'DELETE' && r.path === objectPath(key));
    const deleter = s3Client(gw);
    const deleting = deleter.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    try {
      await eventually(() => proxy.count('DELETE', objectPath(key)) === 1, 'the DELETE upstream');
      const body = bytes(90_000, 7);
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    } finally {
      proxy.release();
    }
    await deleting;
    deleter.destroy();
    // Which write the upstream applied last is the upstream's business; the cache holds neither.
    const after = await gwFetch(gw, key);
    expect(after.headers.get('x-cache')).toBe('MISS');
  });

  it('CopyObject from a cached source caches the destination from local bytes (no upstream GET)', async () => {
    const body = bytes(1_600_000, 10);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wc/copy-src', Body: body }));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'wc/copy-dst',
        CopySource: `${BUCKET}/wc/copy-src`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-copied',
        Metadata: { copied: 'yes' },
      }),
    );
    const upHead = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'wc/copy-dst' }));
    const got = await gwFetch(gw, 'wc/copy-dst');
    expect(got.headers.get('x-cache')).toBe('HIT');
    expect(got.body.equals(body)).toBe(true);
    expect(got.headers.get('etag')).toBe(upHead.ETag);
    expect(got.headers.get('last-modified')).toBe(upHead.LastModified?.toUTCString());
    expect(got.headers.get('content-type')).toBe(upHead.ContentType);
    expect(got.headers.get('x-amz-meta-copied')).toBe(upHead.Metadata?.copied);
    expect(proxy.count('GET', objectPath('wc/copy-dst'))).toBe(0);
    expect(proxy.count('GET', objectPath('wc/copy-src'))).toBe(0);
  });

  it('a copy onto itself (new metadata) replaces the cached copy with the same bytes', async () => {
    const key = 'wc/in-place';
    const body = bytes(1_200_000, 11);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: { v: '1' } }));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: key,
        CopySource: `${BUCKET}/${key}`,
        MetadataDirective: 'REPLACE',
        Metadata: { v: '2' },
      }),
    );
    const upHead = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(upHead.Metadata).toEqual({ v: '2' });
    const got = await gwFetch(gw, key);
    expect(got.headers.get('x-cache')).toBe('HIT');
    expect(got.headers.get('x-amz-meta-v')).toBe('2');
    expect(got.body.equals(body)).toBe(true);
    expect(proxy.count('GET', objectPath(key))).toBe(0);
  });

  it('CopyObject from an uncached source drops the destination; the next GET fills it', async () => {
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wc/cold-src', Body: 'cold source' }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wc/cold-dst', Body: 'old destination' }));
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'wc/cold-dst', CopySource: `${BUCKET}/wc/cold-src` }),
    );
    const got = await gwFetch(gw, 'wc/cold-dst');
    expect(got.headers.get('x-cache')).toBe('MISS');
    expect(got.body.toString()).toBe('cold source');
  });

  it('objects over the admission limit are not cached by a PUT', async () => {
    const g = await startCachingGateway(proxy.port, { maxBytes: '64MiB' });
    const c = s3Client(g);
    try {
      const key = 'wc/huge';
      const body = bytes(16 * 1024 * 1024 + 1, 8); // one byte over 64 MiB / 4
      await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      const r = await gwFetch(g, key);
      expect(r.headers.get('x-cache')).toBe('MISS');
      expect(r.body.equals(body)).toBe(true);
      expect(await metric(g, 'write_cached')).toBe(0);
    } finally {
      c.destroy();
      await g.stop();
    }
  });

  it('conditional deletes carry their conditions upstream (the upstream judges its own objects)', async () => {
    const key = 'wt/conditional';
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    const before = proxy.seen.length;
    await client.send(
      new DeleteObjectCommand({ Bucket: BUCKET, Key: key, IfMatch: '"abc"', IfMatchSize: 1 }),
    );
    const sent = proxy.seen.slice(before).find((r) => r.method === 'DELETE' && r.path === objectPath(key));
    expect(sent?.headers['if-match']).toBe('"abc"');
    expect(sent?.headers['x-amz-if-match-size']).toBe('1');
  });

  it('SSE-S3 writes ask the upstream to encrypt; KMS is refused before anything is sent', async () => {
    const key = 'wt/encrypted';
    const before = proxy.seen.length;
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', ServerSideEncryption: 'AES256' }),
    );
    const sent = proxy.seen.slice(before).find((r) => r.method === 'PUT' && r.path === objectPath(key));
    expect(sent?.headers['x-amz-server-side-encryption']).toBe('AES256');
    const seen = proxy.seen.length;
    const kms = await client
      .send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/kms', Body: 'x', ServerSideEncryption: 'aws:kms' }),
      )
      .then(
        () => undefined,
        (err: { name?: string }) => err.name,
      );
    expect(kms).toBe('NotImplemented');
    expect(proxy.seen.length).toBe(seen);
  });

  it('a storage class goes upstream with the write; an archive class is refused before anything is sent', async () => {
    const before = proxy.seen.length;
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/ia', Body: 'x', StorageClass: 'STANDARD_IA' }),
    );
    const sent = proxy.seen.slice(before).find((r) => r.method === 'PUT' && r.path === objectPath('wt/ia'));
    expect(sent?.headers['x-amz-storage-class']).toBe('STANDARD_IA');
    const seen = proxy.seen.length;
    const glacier = await client
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/g', Body: 'x', StorageClass: 'GLACIER' }))
      .then(
        () => undefined,
        (err: { name?: string }) => err.name,
      );
    expect(glacier).toBe('NotImplemented');
    expect(proxy.seen.length).toBe(seen);
  });
});
