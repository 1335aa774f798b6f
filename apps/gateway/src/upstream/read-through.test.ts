// The read-through cache end to end: real gateway, real SDK clients, s3rver (a third-party S3) as
// the upstream behind a counting proxy. Upstream request counts are the proof for hits,
// coalescing, revalidation and negative caching.
import { createHash, createHmac } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CREDENTIAL } from '../config.ts';
import { s3Client, signedUtf8Request, type TestGateway } from '../testing/harness.ts';
import {
  type ChildS3rver,
  type CountingProxy,
  startCachingGateway,
  startCountingProxy,
  startUpstreamRig,
  type UpstreamRig,
} from './testing/upstream-harness.ts';

const BUCKET = 'origin';
let s3rver: ChildS3rver;
let proxy: CountingProxy;
let upstream: S3Client;
let gw: TestGateway;
let client: S3Client;

let rig: UpstreamRig;

beforeAll(async () => {
  rig = await startUpstreamRig(BUCKET, { cacheTtlMs: 600_000, negativeTtlMs: 600_000 });
  ({ s3rver, proxy, upstream, gw, client } = rig);
});

afterAll(async () => {
  await rig?.stop();
});

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function seed(key: string, body: Buffer, extra: Record<string, unknown> = {}): Promise<string> {
  const out = await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ...extra }));
  return out.ETag ?? '';
}

type Fetched = { status: number; headers: Headers; body: Buffer };

/** A presigned GET/HEAD against a gateway, with the raw response (headers included). */
async function gwFetch(
  g: TestGateway,
  key: string,
  opts: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; bucket?: string } = {},
): Promise<Fetched> {
  const c = s3Client(g);
  const command =
    opts.method === 'HEAD'
      ? new HeadObjectCommand({ Bucket: opts.bucket ?? BUCKET, Key: key })
      : new GetObjectCommand({ Bucket: opts.bucket ?? BUCKET, Key: key });
  const url = await getSignedUrl(c, command, { expiresIn: 300 });
  c.destroy();
  const res = await fetch(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const objectPath = (key: string) => `/${BUCKET}/${key}`;

async function metric(g: TestGateway, name: string): Promise<number> {
  const text = await (await fetch(`${g.url}/_blobcache/metrics`)).text();
  const m = new RegExp(`^blobcache_upstream_${name}_total (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

/** Polls until `check` holds (bounded: the test fails rather than hangs). */
async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('read-through GET/HEAD', { timeout: 30_000 }, () => {
  it('a miss fetches once and caches byte-identical bytes with upstream metadata; hits ask nobody', async () => {
    const body = bytes(3 * 1024 * 1024 + 17, 1);
    const etag = await seed('a/meta.bin', body, {
      ContentType: 'application/x-thing',
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="m.bin"',
      Metadata: { color: 'Blue', origin: 'upstream' },
    });
    const upHead = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a/meta.bin' }));
    const miss = await gwFetch(gw, 'a/meta.bin');
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body.equals(body)).toBe(true);
    expect(proxy.count('GET', objectPath('a/meta.bin'))).toBe(1);

    const hit = await gwFetch(gw, 'a/meta.bin');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body.equals(body)).toBe(true);
    for (const r of [miss, hit]) {
      expect(r.headers.get('etag')).toBe(etag);
      expect(r.headers.get('content-length')).toBe(String(body.length));
      expect(r.headers.get('content-type')).toBe('application/x-thing');
      expect(r.headers.get('cache-control')).toBe('max-age=60');
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="m.bin"');
      expect(r.headers.get('x-amz-meta-color')).toBe('Blue');
      expect(r.headers.get('x-amz-meta-origin')).toBe('upstream');
      expect(r.headers.get('last-modified')).toBe(upHead.LastModified?.toUTCString());
    }
    const head = await gwFetch(gw, 'a/meta.bin', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-cache')).toBe('HIT');
    expect(head.headers.get('content-length')).toBe(String(body.length));
    // A range of a cached object is served locally too.
    const range = await gwFetch(gw, 'a/meta.bin', { headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('x-cache')).toBe('HIT');
    expect(range.body.equals(body.subarray(100, 200))).toBe(true);
    // And through the SDK, which validates nothing we did not send.
    const sdk = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/meta.bin' }));
    expect(Buffer.from(await (sdk.Body?.transformToByteArray() ?? [])).equals(body)).toBe(true);
    expect(sdk.Metadata).toEqual({ color: 'Blue', origin: 'upstream' });
    expect(proxy.count('GET', objectPath('a/meta.bin'))).toBe(1);
    expect(proxy.count('HEAD', objectPath('a/meta.bin'))).toBe(0);
  });

  it('coalesces 50 concurrent cold GETs into exactly one upstream GET', async () => {
    const body = bytes(2 * 1024 * 1024 + 5, 2);
    await seed('hot/key', body);
    const coalescedBefore = await metric(gw, 'coalesced');
    proxy.hold((r) => r.method === 'GET' && r.path === objectPath('hot/key'));
    const urls = await Promise.all(
      Array.from({ length: 50 }, () =>
        getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'hot/key' }), { expiresIn: 300 }),
      ),
    );
    const all = urls.map(async (u) => {
      const res = await fetch(u);
      return {
        status: res.status,
        cache: res.headers.get('x-cache'),
        body: Buffer.from(await res.arrayBuffer()),
      };
    });
    // Every request reached the gateway and waits on the one upstream GET before it is answered.
    await eventually(
      async () => (await metric(gw, 'coalesced')) - coalescedBefore >= 49,
      '49 coalesced GETs',
    );
    expect(proxy.count('GET', objectPath('hot/key'))).toBe(1);
    proxy.release();
    const results = await Promise.all(all);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.equals(body)).toBe(true);
      expect(r.cache).toBe('MISS');
    }
    expect(proxy.count('GET', objectPath('hot/key'))).toBe(1);
  }, 60_000); // 50 clients at once: it once took over 30 s on a machine at load 6

  it("the miss's first bytes reach the client before upstream sent the whole object", async () => {
    const body = bytes(4 * 1024 * 1024, 3);
    await seed('big/stream', body);
    proxy.pauseBodiesAfter(256 * 1024);
    try {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'big/stream' }));
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const reader = res.body?.getReader();
      if (!reader) throw new Error('no body');
      let got = 0;
      const parts: Buffer[] = [];
      while (got < 64 * 1024) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
        parts.push(Buffer.from(value));
      }
      // The upstream body stops at 256 KiB of 4 MiB until resumed: the bytes the client already
      // holds cannot have waited for the whole object.
      expect(got).toBeGreaterThanOrEqual(64 * 1024);
      await eventually(() => proxy.pausedBodies() === 1, 'the upstream body to pause');
      proxy.resumeBodies();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(Buffer.from(value));
      }
      expect(Buffer.concat(parts).equals(body)).toBe(true);
    } finally {
      proxy.resumeBodies();
    }
    // The leader's response ends after the fill's commit (fill.ts): the next GET is a hit.
    expect((await gwFetch(gw, 'big/stream')).headers.get('x-cache')).toBe('HIT');
  });

  it("a coalesced reader's first bytes do not wait for the whole object either", async () => {
    const body = bytes(4 * 1024 * 1024 + 10, 11);
    await seed('big/shared', body);
    proxy.pauseBodiesAfter(1536 * 1024);
    const readers: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
    try {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'big/shared' }));
      const leader = await fetch(url);
      await eventually(() => proxy.pausedBodies() === 1, 'the upstream body to pause');
      const coalescedBefore = await metric(gw, 'coalesced');
      const follower = await fetch(url);
      expect(await metric(gw, 'coalesced')).toBe(coalescedBefore + 1);
      for (const r of [leader, follower]) {
        const reader = r.body?.getReader();
        if (!reader) throw new Error('no body');
        readers.push(reader);
      }
      const parts: Buffer[][] = [[], []];
      const readAtLeast = async (i: number, n: number): Promise<void> => {
        let got = parts[i]?.reduce((a, b) => a + b.length, 0) ?? 0;
        while (got < n) {
          const { value, done } = await (readers[i] as ReadableStreamDefaultReader<Uint8Array>).read();
          if (done) break;
          parts[i]?.push(Buffer.from(value));
          got += value.length;
        }
      };
      // The first 1 MiB chunk has landed in the cache while upstream is paused at 1.5 MiB.
      await readAtLeast(1, 1024 * 1024);
      expect(proxy.pausedBodies()).toBe(1);
      proxy.resumeBodies();
      await readAtLeast(0, body.length + 1);
      await readAtLeast(1, body.length + 1);
      expect(Buffer.concat(parts[0] ?? []).equals(body)).toBe(true);
      expect(Buffer.concat(parts[1] ?? []).equals(body)).toBe(true);
      expect(proxy.count('GET', objectPath('big/shared'))).toBe(1);
    } finally {
      proxy.resumeBodies();
    }
  });

  it('when the fill fails midway, the leader and a coalesced reader are cut off, never padded', async () => {
    // Its own proxy: taking it down (the upstream connection dies mid-body) must not affect others.
    const own = await startCountingProxy(s3rver.port);
    const g = await startCachingGateway(own.port);
    const key = 'big/cut';
    const body = bytes(3 * 1024 * 1024 + 7, 13);
    await seed(key, body);
    own.pauseBodiesAfter(1536 * 1024);
    try {
      const url = await getSignedUrl(s3Client(g), new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const leader = await fetch(url);
      await eventually(() => own.pausedBodies() === 1, 'the upstream body to pause');
      const follower = await fetch(url);
      expect(await metric(g, 'coalesced')).toBe(1);
      const receivedBytes = [0, 0];
      const drained = [leader, follower].map(async (res, i) => {
        const reader = res.body?.getReader();
        if (!reader) throw new Error('no body');
        const parts: Buffer[] = [];
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return { parts, failed: false };
            parts.push(Buffer.from(value));
            receivedBytes[i] = (receivedBytes[i] ?? 0) + value.length;
          }
        } catch {
          return { parts, failed: true };
        }
      });
      // The follower streams the first chunk (it landed) before the upstream connection dies.
      await eventually(() => (receivedBytes[1] ?? 0) >= 1024 * 1024, 'the follower to get chunk 0');
      expect(own.pausedBodies()).toBe(1);
      await own.down();
      for (const [i, res] of [leader, follower].entries()) {
        expect(res.status).toBe(200);
        expect(res.headers.get('content-length')).toBe(String(body.length));
        const got = await drained[i];
        const received = Buffer.concat(got?.parts ?? []);
        // Cut: the client sees an error and fewer bytes than Content-Length; what it got is a
        // prefix of the object, never padding or someone else's bytes.
        expect(got?.failed).toBe(true);
        expect(received.length).toBeLessThan(body.length);
        expect(received.equals(body.subarray(0, received.length))).toBe(true);
      }
      expect(await metric(g, 'fills_aborted')).toBe(1);
    } finally {
      own.resumeBodies();
      await g.stop();
      await own.close();
    }
  });

  it('a range on a cold object is relayed and never cached as the whole object', async () => {
    const body = bytes(1024 * 1024, 4);
    await seed('ranged/obj', body);
    const r = await gwFetch(gw, 'ranged/obj', { headers: { range: 'bytes=1000-1999' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 1000-1999/${body.length}`);
    expect(r.body.equals(body.subarray(1000, 2000))).toBe(true);
    const relayed = proxy.seen.filter((s) => s.method === 'GET' && s.path === objectPath('ranged/obj'));
    expect(relayed.map((s) => s.headers.range)).toEqual(['bytes=1000-1999']);
    const whole = await gwFetch(gw, 'ranged/obj');
    expect(whole.headers.get('x-cache')).toBe('MISS');
    expect(whole.body.equals(body)).toBe(true);
    expect(proxy.count('GET', objectPath('ranged/obj'))).toBe(2);
  });

  it('relays objects larger than a quarter of the budget without caching them', async () => {
    const g = await startCachingGateway(proxy.port, { maxBytes: '64MiB' });
    try {
      const body = bytes(16 * 1024 * 1024 + 1, 12); // one byte over 64 MiB / 4
      await seed('huge/obj', body);
      for (let i = 0; i < 2; i++) {
        const r = await gwFetch(g, 'huge/obj');
        expect(r.status).toBe(200);
        expect(r.headers.get('x-cache')).toBe('MISS');
        expect(r.body.equals(body)).toBe(true);
      }
      expect(proxy.count('GET', objectPath('huge/obj'))).toBe(2);
      expect(await metric(g, 'passthrough')).toBe(2);
    } finally {
      await g.stop();
    }
  });

  it('remembers upstream 404s (negative cache) and forgets them on a PUT through the gateway', async () => {
    const first = await gwFetch(gw, 'missing/key');
    expect(first.status).toBe(404);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.body.toString()).toContain('<Code>NoSuchKey</Code>');
    const second = await gwFetch(gw, 'missing/key');
    expect(second.status).toBe(404);
    expect(second.headers.get('x-cache')).toBe('HIT');
    const head = await gwFetch(gw, 'missing/key', { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(proxy.count('GET', objectPath('missing/key'))).toBe(1);
    expect(proxy.count('HEAD', objectPath('missing/key'))).toBe(0);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'missing/key', Body: 'now here' }));
    const third = await gwFetch(gw, 'missing/key');
    expect(third.status).toBe(200);
    expect(third.body.toString()).toBe('now here');
  });
});

describe('write-through', { timeout: 30_000 }, () => {
  it('PUT reaches upstream first (byte-identical, metadata) and later reads see it', async () => {
    const body = bytes(1_500_000, 5);
    const put = await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'wt/put.bin',
        Body: body,
        ContentType: 'image/x-test',
        Metadata: { who: 'gateway' },
      }),
    );
    const up = await upstream.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'wt/put.bin' }));
    expect(Buffer.from(await (up.Body?.transformToByteArray() ?? [])).equals(body)).toBe(true);
    expect(up.ContentType).toBe('image/x-test');
    expect(up.Metadata).toEqual({ who: 'gateway' });
    expect(put.ETag).toBe(up.ETag);
    const via = await gwFetch(gw, 'wt/put.bin');
    expect(via.body.equals(body)).toBe(true);
    // Overwrite through the gateway: the cached copy must not survive.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/put.bin', Body: 'v2' }));
    expect((await gwFetch(gw, 'wt/put.bin')).body.toString()).toBe('v2');
  });

  it('non-ASCII metadata goes upstream RFC 2047 encoded and comes back encoded', async () => {
    const text = 'naïve 日本語';
    const word = `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
    const path = objectPath('wt/meta-text');
    const put = await signedUtf8Request(gw.port, 'PUT', path, { 'x-amz-meta-note': text }, 'x');
    expect(put.status).toBe(200);
    const up = await upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'wt/meta-text' }));
    expect(up.Metadata).toEqual({ note: word });
    for (const method of ['HEAD', 'GET'] as const) {
      const via = await gwFetch(gw, 'wt/meta-text', { method });
      expect(via.status).toBe(200);
      expect(via.headers.get('x-amz-meta-note')).toBe(word);
    }
    const mpu = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'wt/meta-mpu', Metadata: { note: 'café' } }),
    );
    expect(mpu.UploadId).toBeTruthy();
    const created = proxy.seen.filter((r) => r.method === 'POST' && r.path === objectPath('wt/meta-mpu'));
    expect(created.map((r) => r.headers['x-amz-meta-note'])).toEqual([
      `=?UTF-8?B?${Buffer.from('café', 'utf8').toString('base64')}?=`,
    ]);
  });

  it('tags of a PUT and a CreateMultipartUpload go upstream; bad tags are refused before', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/tagged', Body: 'x', Tagging: 'a=1&b=two' }),
    );
    const put = proxy.seen.filter((r) => r.method === 'PUT' && r.path === objectPath('wt/tagged'));
    expect(put.map((r) => r.headers['x-amz-tagging'])).toEqual(['a=1&b=two']);
    await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'wt/tagged-mpu', Tagging: 'k=v' }),
    );
    const created = proxy.seen.filter((r) => r.method === 'POST' && r.path === objectPath('wt/tagged-mpu'));
    expect(created.map((r) => r.headers['x-amz-tagging'])).toEqual(['k=v']);
    const bad = client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/bad-tags', Body: 'x', Tagging: 'a=1&a=2' }),
    );
    await expect(bad).rejects.toMatchObject({ name: 'InvalidTag' });
    expect(proxy.count('PUT', objectPath('wt/bad-tags'))).toBe(0);
  });

  it('a PUT with a stream body (aws-chunked, trailing checksum) reaches upstream without framing', async () => {
    const { Readable } = await import('node:stream');
    const body = bytes(200_000, 6);
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'wt/stream.bin',
        Body: Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]),
        ContentLength: body.length,
      }),
    );
    const up = await upstream.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'wt/stream.bin' }));
    expect(Buffer.from(await (up.Body?.transformToByteArray() ?? [])).equals(body)).toBe(true);
  });

  it('a PUT whose body fails verification never reaches upstream as an object', async () => {
    const res = await fetch(
      await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: 'wt/bad-md5' }), {
        expiresIn: 60,
      }),
      {
        method: 'PUT',
        body: 'hello world',
        headers: { 'content-md5': createHash('md5').update('something else').digest('base64') },
      },
    );
    expect(res.status).toBe(400);
    await expect(
      upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'wt/bad-md5' })),
    ).rejects.toThrow();
  });

  it('DELETE goes upstream; a fill that raced it never resurrects the object', async () => {
    const body = bytes(600_000, 7);
    await seed('wt/raced', body);
    // The GET's upstream answer (old bytes) is produced now but delivered after the DELETE.
    proxy.hold((r) => r.method === 'GET' && r.path === objectPath('wt/raced'));
    const getting = gwFetch(gw, 'wt/raced');
    await eventually(() => proxy.count('GET', objectPath('wt/raced')) === 1, 'the racing GET upstream');
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'wt/raced' }));
    await expect(upstream.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'wt/raced' }))).rejects.toThrow();
    proxy.release();
    const raced = await getting;
    expect(raced.status).toBe(200); // it was there when asked: serving it once is fine
    expect(raced.body.equals(body)).toBe(true);
    const after = await gwFetch(gw, 'wt/raced');
    expect(after.status).toBe(404);
    expect(after.headers.get('x-cache')).toBe('MISS');
  });
});

describe('multipart and copy write-through', { timeout: 30_000 }, () => {
  it('a multipart upload through the gateway lands upstream and replaces the cached copy', async () => {
    await seed('mp/obj', Buffer.from('old small object'));
    expect((await gwFetch(gw, 'mp/obj')).headers.get('x-cache')).toBe('MISS');
    const body = bytes(11 * 1024 * 1024 + 3, 8);
    const upload = new Upload({
      client,
      params: { Bucket: BUCKET, Key: 'mp/obj', Body: body, ContentType: 'video/x-test' },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const done = await upload.done();
    const up = await upstream.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'mp/obj' }));
    expect(Buffer.from(await (up.Body?.transformToByteArray() ?? [])).equals(body)).toBe(true);
    expect(up.ContentType).toBe('video/x-test');
    expect(done.ETag).toBe(up.ETag);
    const after = await gwFetch(gw, 'mp/obj');
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body.equals(body)).toBe(true);
  });

  it('AbortMultipartUpload is carried to the upstream, whose answer the client gets', async () => {
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp/aborted' }),
    );
    expect(created.UploadId).toBeTruthy();
    // s3rver does not implement AbortMultipartUpload (405 MethodNotAllowed): the gateway must
    // relay that answer, not pretend the abort happened.
    const abort = client.send(
      new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp/aborted', UploadId: created.UploadId }),
    );
    await expect(abort).rejects.toMatchObject({ name: 'MethodNotAllowed' });
    const seen = proxy.seen.filter((r) => r.method === 'DELETE' && r.path === objectPath('mp/aborted'));
    expect(seen.map((r) => new URLSearchParams(r.query).get('uploadId'))).toEqual([created.UploadId]);
  });

  it('CopyObject copies upstream (server side) and drops the stale cached destination', async () => {
    await seed('cp/src', Buffer.from('copy me'));
    await seed('cp/dst', Buffer.from('old destination'));
    expect((await gwFetch(gw, 'cp/dst')).body.toString()).toBe('old destination');
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'cp/dst', CopySource: `${BUCKET}/cp/src` }),
    );
    const up = await upstream.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'cp/dst' }));
    expect(await up.Body?.transformToString()).toBe('copy me');
    const after = await gwFetch(gw, 'cp/dst');
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body.toString()).toBe('copy me');
  });
});

describe('bucket operations on a mapped bucket', { timeout: 30_000 }, () => {
  it('HeadBucket and GetBucketLocation ask the upstream; bucket writes answer 501', async () => {
    const { HeadBucketCommand, GetBucketLocationCommand, DeleteBucketCommand } = await import(
      '@aws-sdk/client-s3'
    );
    await client.send(new HeadBucketCommand({ Bucket: BUCKET }));
    expect(proxy.seen.some((r) => r.method === 'HEAD' && r.path.replace(/\/$/, '') === `/${BUCKET}`)).toBe(
      true,
    );
    const loc = await client.send(new GetBucketLocationCommand({ Bucket: BUCKET }));
    expect(loc.LocationConstraint ?? '').toBe('');
    await expect(
      client.send(new HeadBucketCommand({ Bucket: 'no-such-upstream-bucket' })),
    ).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new DeleteBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({
      name: 'NotImplemented',
    });
    // With every bucket mapped (`*`), ListBuckets is the upstream's.
    const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
    const buckets = await client.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toContain(BUCKET);
    expect(proxy.seen.some((r) => r.method === 'GET' && r.path === '/')).toBe(true);
  });
});

describe('listing passthrough', { timeout: 30_000 }, () => {
  it('reuses pages within BLOBCACHE_LIST_TTL and drops them on a write through the gateway', async () => {
    await seed('lt/a', Buffer.from('a'));
    const g = await startCachingGateway(proxy.port, { listTtlMs: 600_000 });
    const c = s3Client(g);
    try {
      const listCalls = () =>
        proxy.seen.filter(
          (r) => r.method === 'GET' && r.path.startsWith(`/${BUCKET}`) && r.query.includes('prefix=lt'),
        ).length;
      const list = async () =>
        (await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'lt/' }))).Contents?.map(
          (o) => o.Key,
        );
      expect(await list()).toEqual(['lt/a']);
      const after1 = listCalls();
      expect(await list()).toEqual(['lt/a']);
      expect(listCalls()).toBe(after1); // reused
      await seed('lt/direct', Buffer.from('d')); // written upstream behind our back: not seen within the TTL
      expect(await list()).toEqual(['lt/a']);
      await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'lt/b', Body: 'b' }));
      expect(await list()).toEqual(['lt/a', 'lt/b', 'lt/direct']);
      expect(listCalls()).toBe(after1 + 1);
    } finally {
      c.destroy();
      await g.stop();
    }
  });

  it('pages through the upstream listing with our own continuation tokens', async () => {
    for (const k of ['l/1', 'l/2', 'l/3', 'l/d/x', 'l/d/y']) await seed(k, Buffer.from(k));
    const keys: string[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    const tokens: string[] = [];
    for (let page = 0; page < 10; page++) {
      const out = await client.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: 'l/',
          Delimiter: '/',
          MaxKeys: 2,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      keys.push(...(out.Contents ?? []).map((c) => c.Key ?? ''));
      prefixes.push(...(out.CommonPrefixes ?? []).map((c) => c.Prefix ?? ''));
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
      if (token) tokens.push(token);
    }
    expect(keys).toEqual(['l/1', 'l/2', 'l/3']);
    expect(prefixes).toEqual(['l/d/']);
    // Our tokens are positions we can decode; s3rver's own tokens never reach the client.
    expect(Buffer.from(tokens[0] ?? '', 'base64url').toString('utf8')).toBe('l/2');
    const listed = proxy.seen.filter(
      (s) => s.method === 'GET' && s.path.startsWith(`/${BUCKET}`) && s.query.includes('list-type=2'),
    );
    expect(listed.length).toBeGreaterThanOrEqual(2);
    expect(listed.every((s) => !s.query.includes('continuation-token'))).toBe(true);
  });
});

function toBytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

class NodeSha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#h.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {}
}

async function presignAdmin(g: TestGateway, method: string, path: string, query: Record<string, string>) {
  const presigner = new S3RequestPresigner({
    credentials: DEV_CREDENTIAL,
    region: 'us-east-1',
    sha256: NodeSha256,
  });
  const req = await presigner.presign(
    {
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: g.port,
      path,
      query,
      headers: { host: `127.0.0.1:${g.port}` },
    },
    { expiresIn: 60 },
  );
  const qs = Object.entries(req.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${g.url}${path}?${qs}`;
}

describe('admin', { timeout: 30_000 }, () => {
  it('purges one key or a prefix (authenticated only) and exposes counters', async () => {
    await seed('p/1', Buffer.from('one'));
    await seed('p/2', Buffer.from('two'));
    await seed('q/1', Buffer.from('other'));
    for (const k of ['p/1', 'p/2', 'q/1']) expect((await gwFetch(gw, k)).status).toBe(200);
    for (const k of ['p/1', 'p/2', 'q/1']) expect((await gwFetch(gw, k)).headers.get('x-cache')).toBe('HIT');

    const anonymous = await fetch(`${gw.url}/_blobcache/purge?bucket=${BUCKET}&key=p/1`, { method: 'POST' });
    expect(anonymous.status).toBe(403);

    const one = await fetch(
      await presignAdmin(gw, 'POST', '/_blobcache/purge', { bucket: BUCKET, key: 'p/1' }),
      {
        method: 'POST',
      },
    );
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ purged: 1 });
    expect((await gwFetch(gw, 'p/1')).headers.get('x-cache')).toBe('MISS');
    expect((await gwFetch(gw, 'p/2')).headers.get('x-cache')).toBe('HIT');

    const prefix = await fetch(
      await presignAdmin(gw, 'POST', '/_blobcache/purge', { bucket: BUCKET, prefix: 'p/' }),
      { method: 'POST' },
    );
    expect(await prefix.json()).toMatchObject({ purged: 2 });
    expect((await gwFetch(gw, 'p/2')).headers.get('x-cache')).toBe('MISS');
    expect((await gwFetch(gw, 'q/1')).headers.get('x-cache')).toBe('HIT');

    const metrics = await fetch(`${gw.url}/_blobcache/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    for (const name of [
      'hits',
      'misses',
      'coalesced',
      'revalidations',
      'upstream_bytes',
      'upstream_errors',
      'purged',
    ]) {
      expect(text).toMatch(new RegExp(`^blobcache_upstream_${name}_total \\d+$`, 'm'));
    }
    expect(await metric(gw, 'hits')).toBeGreaterThan(0);
    expect(await metric(gw, 'purged')).toBe(3);
  });
});
