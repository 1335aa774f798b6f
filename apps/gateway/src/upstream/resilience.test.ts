// Revalidation, restart, stale serving and upstream failures, against s3rver in a child process
// behind a counting proxy that can inject 5xx, and finally with s3rver killed and the proxy gone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
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
  type ChildS3rver,
  type CountingProxy,
  startCachingGateway,
  startCountingProxy,
  startS3rver,
  upstreamClient,
} from './testing/upstream-harness.ts';

const BUCKET = 'flaky';
let s3rver: ChildS3rver;
let proxy: CountingProxy;
let upstream: S3Client;
let gw: TestGateway;
let dataDir: string;

beforeAll(async () => {
  s3rver = await startS3rver();
  proxy = await startCountingProxy(s3rver.port);
  upstream = upstreamClient(s3rver.port);
  await upstream.send(new CreateBucketCommand({ Bucket: BUCKET }));
  dataDir = await mkdtemp(join(tmpdir(), 'blobcache-resilience-'));
  gw = await startCachingGateway(proxy.port, { dataDir, cacheTtlMs: 0, negativeTtlMs: 600_000 });
});

afterAll(async () => {
  upstream?.destroy();
  await gw?.stop();
  await proxy?.close();
  await s3rver?.kill();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

type Fetched = { status: number; headers: Headers; body: Buffer };

async function gwFetch(
  key: string,
  opts: { method?: 'GET' | 'HEAD' | 'PUT'; headers?: Record<string, string>; body?: string } = {},
): Promise<Fetched> {
  const c = s3Client(gw);
  const method = opts.method ?? 'GET';
  const command =
    method === 'HEAD'
      ? new HeadObjectCommand({ Bucket: BUCKET, Key: key })
      : method === 'PUT'
        ? new PutObjectCommand({ Bucket: BUCKET, Key: key })
        : new GetObjectCommand({ Bucket: BUCKET, Key: key });
  const url = await getSignedUrl(c, command, { expiresIn: 300 });
  c.destroy();
  const res = await fetch(url, {
    method,
    headers: opts.headers ?? {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const path = (key: string) => `/${BUCKET}/${key}`;

describe('revalidation and upstream failure', { timeout: 30_000 }, () => {
  it('revalidates with If-None-Match after the TTL: 304 keeps the bytes, a change replaces them, a 404 removes them', async () => {
    const v1 = Buffer.alloc(1_100_000, 1);
    const put = await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'r/obj', Body: v1 }));
    expect((await gwFetch('r/obj')).headers.get('x-cache')).toBe('MISS');
    const again = await gwFetch('r/obj');
    expect(again.headers.get('x-cache')).toBe('REVALIDATED');
    expect(again.body.equals(v1)).toBe(true);
    const gets = proxy.seen.filter((s) => s.method === 'GET' && s.path === path('r/obj'));
    expect(gets.length).toBe(2);
    expect(gets[1]?.headers['if-none-match']).toBe(put.ETag);
    const head = await gwFetch('r/obj', { method: 'HEAD' });
    expect(head.headers.get('x-cache')).toBe('REVALIDATED');
    expect(
      proxy.seen.filter((s) => s.method === 'HEAD' && s.path === path('r/obj'))[0]?.headers['if-none-match'],
    ).toBe(put.ETag);
    // A range of a stale copy: checked with a conditional HEAD, then served from the cache.
    const range = await gwFetch('r/obj', { headers: { range: 'bytes=0-9' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('x-cache')).toBe('REVALIDATED');
    expect(range.body.equals(v1.subarray(0, 10))).toBe(true);

    const v2 = Buffer.from('second version');
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'r/obj', Body: v2 }));
    const changed = await gwFetch('r/obj');
    expect(changed.headers.get('x-cache')).toBe('MISS');
    expect(changed.body.equals(v2)).toBe(true);

    await upstream.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'r/obj' }));
    const gone = await gwFetch('r/obj');
    expect(gone.status).toBe(404);
    const before = proxy.count('GET', path('r/obj'));
    expect((await gwFetch('r/obj')).status).toBe(404); // negative entry: upstream not asked
    expect(proxy.count('GET', path('r/obj'))).toBe(before);
  });

  it('revalidates every cached copy after a restart (freshness is not trusted across processes)', async () => {
    const body = Buffer.from('survives restarts');
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'r/restart', Body: body }));
    expect((await gwFetch('r/restart')).headers.get('x-cache')).toBe('MISS');
    await gw.close();
    gw = await startCachingGateway(proxy.port, { dataDir, cacheTtlMs: 600_000, negativeTtlMs: 600_000 });
    const first = await gwFetch('r/restart');
    expect(first.headers.get('x-cache')).toBe('REVALIDATED');
    expect(first.body.equals(body)).toBe(true);
    expect((await gwFetch('r/restart')).headers.get('x-cache')).toBe('HIT');
    // Back to TTL 0 for the failure tests below.
    await gw.close();
    gw = await startCachingGateway(proxy.port, { dataDir, cacheTtlMs: 0, negativeTtlMs: 600_000 });
  });

  it('serves the cached copy as STALE on upstream 5xx; without one, a 503 naming the upstream problem', async () => {
    const body = Buffer.alloc(300_000, 9);
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 's/cached', Body: body }));
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 's/cold', Body: 'cold' }));
    expect((await gwFetch('s/cached')).status).toBe(200);
    proxy.failWith(500);
    try {
      const stale = await gwFetch('s/cached');
      expect(stale.status).toBe(200);
      expect(stale.headers.get('x-cache')).toBe('STALE');
      expect(stale.body.equals(body)).toBe(true);
      expect((await gwFetch('s/cached', { method: 'HEAD' })).headers.get('x-cache')).toBe('STALE');
      const cold = await gwFetch('s/cold');
      expect(cold.status).toBe(503);
      const xml = cold.body.toString();
      expect(xml).toContain('<Code>ServiceUnavailable</Code>');
      expect(xml).toContain(`upstream http://127.0.0.1:${proxy.port} answered 500`);
      expect((await gwFetch('s/cold', { method: 'HEAD' })).status).toBe(503);
      const put = await gwFetch('s/new', { method: 'PUT', body: 'x' });
      expect(put.status).toBe(503);
    } finally {
      proxy.failWith(undefined);
    }
  });

  it('keeps serving cached copies when the upstream is killed, and 503s the rest', async () => {
    const body = Buffer.alloc(200_000, 3);
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k/cached', Body: body }));
    await upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k/cold', Body: 'never fetched' }));
    expect((await gwFetch('k/cached')).status).toBe(200);
    await s3rver.kill();
    const stale = await gwFetch('k/cached');
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(stale.body.equals(body)).toBe(true);
    const cold = await gwFetch('k/cold');
    expect(cold.status).toBe(503);
    expect(cold.body.toString()).toContain(`blobcache upstream http://127.0.0.1:${proxy.port}`);
    await proxy.down();
    const refused = await gwFetch('k/cold');
    expect(refused.status).toBe(503);
    expect(refused.body.toString()).toMatch(/is unreachable \(ECONNREFUSED\)/);
    expect((await gwFetch('k/cached')).headers.get('x-cache')).toBe('STALE');
    const text = await (await fetch(`${gw.url}/_blobcache/metrics`)).text();
    expect(text).toMatch(/^blobcache_upstream_stale_served_total [1-9]\d*$/m);
    expect(text).toMatch(/^blobcache_upstream_upstream_errors_total [1-9]\d*$/m);
  });
});
