import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstreamRig, type UpstreamRig } from '../upstream/testing/upstream-harness.ts';
import type { EngineStatsSource } from './engine-metrics.ts';
import { gatewayReadiness, localReadiness } from './readiness.ts';
import { sample, scrapeUntil } from './testing/scrape.ts';
import {
  READY_PROBE_MIN_INTERVAL_MS,
  READY_UPSTREAM_WINDOW_MS,
  UpstreamLiveness,
} from './upstream-liveness.ts';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const answered = (status: number) =>
  Object.assign(new Error(`status ${status}`), {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: status },
  });

describe('UpstreamLiveness', () => {
  function rig(probeOutcome: () => Promise<unknown>) {
    let now = 1_000_000;
    let probes = 0;
    const live = new UpstreamLiveness({
      endpoint: 'http://up',
      probe: () => {
        probes++;
        return probeOutcome();
      },
      now: () => now,
    });
    return { live, advance: (ms: number) => (now += ms), probes: () => probes };
  }

  it('is ready without probing while the latest call was answered within the window', async () => {
    const r = rig(async () => undefined);
    r.live.answered();
    r.advance(READY_UPSTREAM_WINDOW_MS);
    expect(await r.live.readiness()).toEqual({ ready: true });
    expect(r.probes()).toBe(0);
    r.advance(1);
    expect(await r.live.readiness()).toEqual({ ready: true });
    expect(r.probes()).toBe(1);
  });

  it('counts 4xx answers as reachable and network errors or 5xx as failures', async () => {
    const r = rig(async () => undefined);
    r.live.failedWith(answered(403));
    r.live.failedWith(answered(404));
    r.live.failedWith(refused());
    r.live.failedWith(answered(503));
    expect(r.live.calls).toEqual({ answered: 2, failed: 2 });
  });

  it('probes when the latest call failed, at most once per interval, and recovers', async () => {
    let up = false;
    const r = rig(async () => {
      if (!up) throw refused();
    });
    r.live.answered();
    r.advance(1);
    r.live.failedWith(refused());
    const down = await r.live.readiness();
    expect(down.ready).toBe(false);
    expect(down.reason).toBe('upstream http://up is unreachable (ECONNREFUSED)');
    expect(r.probes()).toBe(1);
    // A health checker polling hard does not turn into upstream load.
    for (let i = 0; i < 5; i++) expect((await r.live.readiness()).ready).toBe(false);
    expect(r.probes()).toBe(1);
    up = true;
    r.advance(READY_PROBE_MIN_INTERVAL_MS);
    expect(await r.live.readiness()).toEqual({ ready: true });
    expect(r.probes()).toBe(2);
  });

  it('runs one probe for concurrent checks', async () => {
    let release: () => void = () => {};
    const r = rig(() => new Promise<void>((resolve) => (release = resolve)));
    const checks = [r.live.readiness(), r.live.readiness(), r.live.readiness()];
    release();
    expect(await Promise.all(checks)).toEqual([{ ready: true }, { ready: true }, { ready: true }]);
    expect(r.probes()).toBe(1);
  });

  it('gives up on a probe that does not answer in time', async () => {
    const live = new UpstreamLiveness({
      endpoint: 'http://up',
      probeTimeoutMs: 20,
      probe: (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    });
    const verdict = await live.readiness();
    expect(verdict.ready).toBe(false);
    expect(verdict.reason).toMatch(/^upstream http:\/\/up timed out/);
  });
});

describe('gatewayReadiness', () => {
  const engine = (degraded: boolean): EngineStatsSource => ({
    stats: () => ({ liveBytes: 0, degraded, degradedReason: degraded ? 'EIO: disk gone' : undefined }),
  });

  it('needs the server accepting and no engine degraded', async () => {
    const healthy = { role: 'store' as const, engine: engine(false) };
    expect(localReadiness({ accepting: () => true, engines: [healthy] })).toEqual({ ready: true });
    expect(localReadiness({ accepting: () => false, engines: [healthy] })).toEqual({
      ready: false,
      reason: 'not accepting requests',
    });
    expect(
      await gatewayReadiness({
        accepting: () => true,
        engines: [healthy, { role: 'cache', engine: engine(true) }],
      }),
    ).toEqual({ ready: false, reason: 'cache engine degraded: EIO: disk gone' });
  });

  it('asks the upstream only when everything local is ready', async () => {
    let asked = 0;
    const upstream = {
      readiness: async () => {
        asked++;
        return { ready: false, reason: 'upstream down' };
      },
    };
    const store = { role: 'store' as const, engine: engine(false) };
    expect(await gatewayReadiness({ accepting: () => false, engines: [store], upstream })).toMatchObject({
      reason: 'not accepting requests',
    });
    expect(asked).toBe(0);
    expect(await gatewayReadiness({ accepting: () => true, engines: [store], upstream })).toEqual({
      ready: false,
      reason: 'upstream down',
    });
  });
});

const BUCKET = 'liveness';

describe('upstream mode: /_blobcache/ready and /_blobcache/metrics', { timeout: 60_000 }, () => {
  let r: UpstreamRig;
  beforeAll(async () => {
    r = await startUpstreamRig(BUCKET);
  });
  afterAll(async () => {
    await r.stop();
  });

  it('reports cache counters, both engines and upstream calls; ready until the upstream goes away', async () => {
    // No upstream call yet: readiness probes it (ListBuckets).
    const ready = await fetch(`${r.gw.url}/_blobcache/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(r.proxy.count('GET', '/')).toBe(1);
    // The probe's answer vouches for the upstream for a while: no second probe.
    expect((await fetch(`${r.gw.url}/_blobcache/ready`)).status).toBe(200);
    expect(r.proxy.count('GET', '/')).toBe(1);

    const body = Buffer.alloc(12_345, 1);
    await r.upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k/warm', Body: body }));
    await r.upstream.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k/cold', Body: 'cold' }));
    for (let i = 0; i < 2; i++) {
      const got = await r.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k/warm' }));
      expect((await got.Body!.transformToByteArray()).length).toBe(body.length);
    }
    const { samples: s } = await scrapeUntil(
      r.gw.url,
      (s) => sample(s, 'blobcache_requests_total{operation="GetObject",status="200"}') === 2,
      'both GETs',
    );
    expect(sample(s, 'blobcache_upstream_misses_total')).toBe(1);
    expect(sample(s, 'blobcache_upstream_hits_total')).toBe(1);
    expect(sample(s, 'blobcache_upstream_fills_total')).toBe(1);
    expect(sample(s, 'blobcache_upstream_upstream_bytes_total')).toBe(body.length);
    expect(s.has('blobcache_upstream_coalesced_total')).toBe(true);
    expect(s.has('blobcache_upstream_revalidations_total')).toBe(true);
    expect(sample(s, 'blobcache_request_bytes_out_total{operation="GetObject"}')).toBe(2 * body.length);
    for (const engine of ['store', 'cache']) {
      expect(s.get(`blobcache_engine_degraded{engine="${engine}"}`)).toBe(0);
      expect(s.has(`blobcache_engine_items{engine="${engine}"}`)).toBe(true);
    }
    expect(sample(s, 'blobcache_engine_live_bytes{engine="cache"}')).toBeGreaterThanOrEqual(body.length);
    // The probe and the fill's GET were answered.
    expect(sample(s, 'blobcache_upstream_calls_total{outcome="answered"}')).toBeGreaterThanOrEqual(2);
    expect(sample(s, 'blobcache_upstream_calls_total{outcome="failed"}')).toBe(0);

    await r.proxy.down();
    const cold = await r.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k/cold' })).catch((e) => e);
    expect(cold.$metadata.httpStatusCode).toBe(503);
    const notReady = await fetch(`${r.gw.url}/_blobcache/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({
      status: 'unavailable',
      reason: `upstream http://127.0.0.1:${r.proxy.port} is unreachable (ECONNREFUSED)`,
    });
    // Liveness is the gateway's own: still 200.
    expect((await fetch(`${r.gw.url}/_blobcache/health`)).status).toBe(200);
    const after = await scrapeUntil(
      r.gw.url,
      (s) => sample(s, 'blobcache_upstream_calls_total{outcome="failed"}') >= 1,
      'the failed upstream call',
    );
    expect(sample(after.samples, 'blobcache_upstream_upstream_errors_total')).toBeGreaterThanOrEqual(1);
    expect(sample(after.samples, 'blobcache_requests_total{operation="Ready",status="503"}')).toBe(1);
  });
});

describe('upstream mode: an upstream that is down from the start', { timeout: 60_000 }, () => {
  it('is not ready: the readiness probe fails', async () => {
    const r = await startUpstreamRig(BUCKET);
    try {
      await r.s3rver.kill();
      const res = await fetch(`${r.gw.url}/_blobcache/ready`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; reason: string };
      expect(body.status).toBe('unavailable');
      expect(body.reason).toContain(`upstream http://127.0.0.1:${r.proxy.port} `);
      // The probe reached the proxy, which could not reach s3rver.
      expect(r.proxy.count('GET', '/')).toBe(1);
    } finally {
      await r.stop();
    }
  });
});
