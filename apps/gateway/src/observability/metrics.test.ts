import { rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  s3Client,
  startGatewayWithClient,
  startTestGateway,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';
import { GatewayMetrics, LATENCY_BUCKETS_SECONDS, MAX_LABELLED_OPERATIONS } from './metrics.ts';
import type { RequestState } from './request-state.ts';
import { sample, scrape, scrapeUntil } from './testing/scrape.ts';

const BUCKET = 'metered';
const req = (op: string, status: number) => `blobcache_requests_total{operation="${op}",status="${status}"}`;

describe('/_blobcache/metrics in store mode', { timeout: 30_000 }, () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient());
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('counts requests by operation and status, latency, bytes in/out and engine stats', async () => {
    const body = Buffer.alloc(70_001, 7);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a/one', Body: body }));
    for (let i = 0; i < 2; i++) {
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'a/one' }));
      expect((await got.Body!.transformToByteArray()).length).toBe(body.length);
    }
    await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a/one' }));
    const missing = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'nope' })).catch((e) => e);
    expect(missing.$metadata.httpStatusCode).toBe(404);

    const { contentType, samples: s } = await scrapeUntil(
      gw.url,
      (s) => sample(s, req('HeadObject', 404)) === 1,
      'the last HEAD',
    );
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sample(s, req('CreateBucket', 200))).toBe(1);
    expect(sample(s, req('PutObject', 200))).toBe(1);
    expect(sample(s, req('GetObject', 200))).toBe(2);
    expect(sample(s, req('HeadObject', 200))).toBe(1);
    expect(sample(s, req('HeadObject', 404))).toBe(1);

    // Latency: one observation per GetObject, cumulative buckets ending at +Inf = count.
    const lat = (suffix: string) => `blobcache_request_duration_seconds_${suffix}`;
    expect(sample(s, `${lat('count')}{operation="GetObject"}`)).toBe(2);
    expect(sample(s, `${lat('bucket')}{le="+Inf",operation="GetObject"}`)).toBe(2);
    expect(sample(s, `${lat('count')}{operation="HeadObject"}`)).toBe(2);
    let previous = 0;
    for (const le of LATENCY_BUCKETS_SECONDS) {
      const v = sample(s, `${lat('bucket')}{le="${le}",operation="GetObject"}`);
      expect(v).toBeGreaterThanOrEqual(previous);
      previous = v;
    }
    expect(s.has(`${lat('bucket')}{le="0.001",operation="GetObject"}`)).toBe(true);
    expect(s.has(`${lat('bucket')}{le="30",operation="GetObject"}`)).toBe(true);
    expect(sample(s, `${lat('sum')}{operation="GetObject"}`)).toBeGreaterThan(0);

    expect(sample(s, 'blobcache_request_bytes_in_total{operation="PutObject"}')).toBe(body.length);
    expect(sample(s, 'blobcache_request_bytes_out_total{operation="GetObject"}')).toBe(2 * body.length);
    expect(s.has('blobcache_request_bytes_out_total{operation="HeadObject"}')).toBe(false);

    // The store engine: a bucket record, the object head and its bytes.
    expect(sample(s, 'blobcache_engine_items{engine="store"}')).toBeGreaterThanOrEqual(2);
    expect(sample(s, 'blobcache_engine_live_bytes{engine="store"}')).toBeGreaterThanOrEqual(body.length);
    expect(s.get('blobcache_engine_disk_bytes{engine="store"}')).toBeGreaterThanOrEqual(0);
    expect(s.get('blobcache_engine_segments{engine="store"}')).toBeGreaterThanOrEqual(0);
    expect(s.get('blobcache_engine_evictions_total{engine="store"}')).toBe(0);
    expect(s.get('blobcache_engine_compactions_total{engine="store"}')).toBeGreaterThanOrEqual(0);
    expect(s.get('blobcache_engine_bloom_ghosts_total{engine="store"}')).toBeGreaterThanOrEqual(0);
    expect(s.get('blobcache_engine_degraded{engine="store"}')).toBe(0);
    // Store mode runs no cache engine and no upstream.
    expect([...s.keys()].some((k) => k.includes('engine="cache"'))).toBe(false);
    expect([...s.keys()].some((k) => k.startsWith('blobcache_upstream_'))).toBe(false);

    // Process metrics share the prefix; nothing is unprefixed.
    expect(s.get('blobcache_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect([...s.keys()].every((k) => k.startsWith('blobcache_'))).toBe(true);
    // No series is labelled by bucket or key.
    expect([...s.keys()].some((k) => k.includes(BUCKET) || k.includes('a/one'))).toBe(false);
  });

  it('counts its own scrapes and answers HEAD without a body', async () => {
    const before = sample((await scrape(gw.url)).samples, req('Metrics', 200));
    const head = await fetch(`${gw.url}/_blobcache/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    await scrapeUntil(gw.url, (s) => sample(s, req('Metrics', 200)) >= before + 2, 'the scrapes themselves');
  });

  it('keeps one registry per gateway', async () => {
    const other = await startTestGateway();
    const c = s3Client(other);
    try {
      await c.send(new CreateBucketCommand({ Bucket: 'elsewhere' }));
      await scrapeUntil(other.url, (s) => sample(s, req('CreateBucket', 200)) === 1, 'the other bucket');
      expect(sample((await scrape(gw.url)).samples, req('CreateBucket', 200))).toBe(1);
      expect(other.metrics.registry).not.toBe(gw.metrics.registry);
    } finally {
      c.destroy();
      await other.stop();
    }
  });
});

describe('/_blobcache/ready in store mode', { timeout: 30_000 }, () => {
  it('is 200 while open, 503 once close begins; health is unchanged', async () => {
    const gw = await startTestGateway();
    let stopping: Promise<void> | undefined;
    const sock = connect(gw.port, '127.0.0.1');
    const connected = new Promise<void>((r) => sock.once('connect', () => r()));
    try {
      const res = await fetch(`${gw.url}/_blobcache/ready`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toEqual({ status: 'ready' });
      expect((await fetch(`${gw.url}/_blobcache/health`)).status).toBe(200);
      expect(await gw.readiness()).toEqual({ ready: true });

      // Once close begins no new connection is accepted; a connection busy with an unfinished
      // request body stays, and a request pipelined behind that body still reaches the gateway.
      let got = '';
      sock.on('data', (d: Buffer) => {
        got += d.toString();
      });
      await connected;
      sock.write('PUT /somewhere/key HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab');
      await until(() => got.includes('</Error>'), 'the unsigned PUT to be refused');
      stopping = gw.stop();
      expect(await gw.readiness()).toEqual({ ready: false, reason: 'not accepting requests' });
      sock.write('cdeGET /_blobcache/ready HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => got.includes('"reason"'), 'the pipelined readiness answer');
      const ready = got.slice(got.indexOf('</Error>'));
      expect(ready).toContain('HTTP/1.1 503 Service Unavailable');
      expect(ready).toContain('{"status":"unavailable","reason":"not accepting requests"}');
    } finally {
      sock.destroy();
      await (stopping ?? gw.stop());
    }
  });
});

describe('a degraded store engine', { timeout: 60_000 }, () => {
  it('makes /ready 503 with the reason and shows in blobcache_engine_degraded', async () => {
    const gw = await startTestGateway({ maxBytes: 64 * 1024 * 1024 });
    const s3 = s3Client(gw);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      // A real I/O failure: the engine's segment directory becomes a plain file, so the next
      // memtable flush (forced by an object larger than the memtable) cannot rename its WAL into it.
      const segments = join(gw.dataDir, 'engine', 'segments');
      await rm(segments, { recursive: true, force: true });
      await writeFile(segments, 'not a directory');
      for (let i = 0; i < 3 && (await gw.readiness()).ready; i++) {
        await s3
          .send(new PutObjectCommand({ Bucket: BUCKET, Key: `big/${i}`, Body: Buffer.alloc(9_000_000, 1) }))
          .catch(() => undefined);
      }
      let res = await fetch(`${gw.url}/_blobcache/ready`);
      for (let i = 0; i < 100 && res.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        res = await fetch(`${gw.url}/_blobcache/ready`);
      }
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; reason: string };
      expect(body.status).toBe('unavailable');
      expect(body.reason).toMatch(/^store engine degraded: ENOTDIR/);
      const { samples } = await scrape(gw.url);
      expect(samples.get('blobcache_engine_degraded{engine="store"}')).toBe(1);
    } finally {
      s3.destroy();
      await gw.stop();
    }
  });
});

describe('/_blobcache/metrics for refused requests', { timeout: 30_000 }, () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('names the operation of a request refused before routing (a bad signature)', async () => {
    const wrong = s3Client(gw, {
      credentials: { accessKeyId: 'blobcache', secretAccessKey: 'not-the-secret' },
    });
    try {
      const denied = await wrong
        .send(new PutObjectCommand({ Bucket: 'denied', Key: 'k', Body: 'x' }))
        .catch((e) => e);
      expect(denied.$metadata.httpStatusCode).toBe(403);
    } finally {
      wrong.destroy();
    }
    const { samples: s } = await scrapeUntil(
      gw.url,
      (s) => sample(s, req('PutObject', 403)) === 1,
      'the 403',
    );
    expect(sample(s, req('Unrouted', 403))).toBe(0);
  });
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('GatewayMetrics', () => {
  const state = (operation: string | undefined, bytesIn = 0, bytesOut = 0): RequestState => ({
    requestId: 'X',
    startedAtNs: 0n,
    ...(operation !== undefined ? { operation } : {}),
    bytesIn,
    bytesOut,
  });

  it('labels unrouted requests and bounds the operation label set', async () => {
    const m = new GatewayMetrics({ processMetrics: false });
    m.record(state(undefined), 400, 0.002, false);
    m.record(state('GetObject', 0, 5), 200, 0.002, true);
    for (let i = 0; i < MAX_LABELLED_OPERATIONS + 10; i++) m.record(state(`Op${i}`), 200, 0.001, false);
    const { body } = await m.scrape();
    expect(body).toContain('blobcache_requests_total{operation="Unrouted",status="400"} 1');
    expect(body).toContain('blobcache_requests_aborted_total{operation="GetObject"} 1');
    expect(body).toContain('blobcache_request_bytes_out_total{operation="GetObject"} 5');
    const operations = new Set(
      [...body.matchAll(/^blobcache_requests_total\{operation="([^"]+)"/gm)].map((x) => x[1]),
    );
    expect(operations.size).toBe(MAX_LABELLED_OPERATIONS + 1);
    expect(operations.has('other')).toBe(true);
    // The ops past the bound were counted, under `other`.
    const other = /^blobcache_requests_total\{operation="other",status="200"\} (\d+)$/m.exec(body);
    expect(Number(other?.[1])).toBe(12);
    expect(body).not.toContain('process_cpu');
  });
});
