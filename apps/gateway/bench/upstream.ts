// Upstream-mode (read-through cache) benchmark: the gateway (CLI child process) with s3rver as the
// upstream (child process, behind the counting proxy of the upstream tests). Prints markdown tables; no assertions on speed, but
// every response is checked (status, length) and upstream request counts are exact.
//   1. Hit vs miss latency (p50/p90/p99) for 64 KiB and 1 MiB objects, one request at a time.
//   2. Throughput at 16 concurrent requests: hits, misses (each key cold), and s3rver directly.
//   3. Upstream GETs for a Zipf(s=1) read workload over 1000 keys vs cache size, through the
//      cache layer itself (small budgets; the gateway's CLI requires >= 64 MiB).
// Bounded: BENCH_DURATION_SEC (default 5) per throughput run, fixed key counts, temp dirs removed.
// Usage: node bench/upstream.ts   (BENCH_UPSTREAM_ONLY=zipf for the Zipf table alone)
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { pino } from 'pino';
// The exact SIEVE model the engine's own fidelity tests use (one model for both).
import { sieveHitRatio } from '../../../packages/engine/bench/sieve-model.ts';
import { parseConfig } from '../src/config.ts';
import { s3Client } from '../src/testing/harness.ts';
import {
  type CountingProxy,
  S3RVER_KEY,
  startCountingProxy,
  startS3rver,
  upstreamClient,
} from '../src/upstream/testing/upstream-harness.ts';
import { openUpstreamLayer } from '../src/upstream/upstream-layer.ts';
import { startGateway } from './children.ts';

const DURATION_MS = Number(process.env.BENCH_DURATION_SEC ?? 5) * 1000;
const CONCURRENCY = 16;
const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'bench-upstream';
const LOCAL_BUCKET = 'bench-local';
const LATENCY_KEYS = 50;
const COLD_KEYS = 300;
const ZIPF_KEYS = 1000;
const ZIPF_OBJECT_BYTES = 16 * KiB;
const ZIPF_READS = 10_000;
const ZIPF_CACHE_BYTES = [1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB];
/** BENCH_UPSTREAM_ONLY=zipf: only the Zipf table (section 3). */
const ZIPF_ONLY = process.env.BENCH_UPSTREAM_ONLY === 'zipf';

let agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

/** A fresh connection pool per phase: sockets idle across a long seeding step get closed by the server. */
function freshAgent(): void {
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** GET a URL, drain it, return the body length; throws on a non-200. */
function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(n) : reject(new Error(`status ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

async function timed(url: string, expected: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const n = await get(url);
  if (n !== expected) throw new Error(`short body: ${n} of ${expected}`);
  return ms(process.hrtime.bigint() - t0);
}

async function seed(client: S3Client, prefix: string, count: number, bytes: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}/${i}`);
  const body = Buffer.alloc(bytes, 0x61);
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(
      keys
        .slice(i, i + 16)
        .map((Key) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: body }))),
    );
  }
  return keys;
}

async function presign(client: S3Client, keys: string[]): Promise<string[]> {
  return Promise.all(
    keys.map((Key) =>
      getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key }), { expiresIn: 3600 }),
    ),
  );
}

/** Requests/s with CONCURRENCY workers: over `urls` in a loop until DURATION_MS, or once each. */
async function throughput(
  urls: string[],
  bytes: number,
  once: boolean,
): Promise<{ rps: number; bps: number }> {
  let next = 0;
  let done = 0;
  const t0 = Date.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      if (once ? next >= urls.length : Date.now() - t0 >= DURATION_MS) return;
      const url = urls[next++ % urls.length] as string;
      if ((await get(url)) !== bytes) throw new Error('short body');
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const sec = (Date.now() - t0) / 1000;
  return { rps: done / sec, bps: (done * bytes) / sec };
}

/** Zipf(s=1) sampler over n ranks (rank 0 most popular), by inverse CDF. */
function zipfSampler(n: number, seed: number): () => number {
  const cdf: number[] = [];
  let total = 0;
  for (let k = 1; k <= n; k++) total += 1 / k;
  let acc = 0;
  for (let k = 1; k <= n; k++) {
    acc += 1 / k / total;
    cdf.push(acc);
  }
  let state = seed >>> 0;
  const random = (): number => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Sections 1 and 2: latency and throughput through the gateway child. */
async function latencyAndThroughput(
  out: string[],
  upstream: S3Client,
  client: S3Client,
  proxy: CountingProxy,
): Promise<void> {
  // 1. Latency.
  out.push(
    '## Upstream mode: hit vs miss latency (one request at a time, s3rver upstream)',
    '',
    '| Object | Miss p50 | Miss p90 | Miss p99 | Hit p50 | Hit p90 | Hit p99 | Upstream GETs |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const bytes of [64 * KiB, 1 * MiB]) {
    log(`latency: seeding ${LATENCY_KEYS} × ${bytes} B`);
    const keys = await seed(upstream, `lat-${bytes}`, LATENCY_KEYS, bytes);
    const urls = await presign(client, keys);
    freshAgent();
    const before = proxy.seen.length;
    const miss: number[] = [];
    const hit: number[] = [];
    for (const u of urls) miss.push(await timed(u, bytes));
    for (const u of urls) hit.push(await timed(u, bytes));
    const gets = proxy.seen.slice(before).filter((r) => r.method === 'GET').length;
    miss.sort((a, b) => a - b);
    hit.sort((a, b) => a - b);
    const f = (v: number) => `${v.toFixed(2)} ms`;
    out.push(
      `| ${bytes / KiB} KiB | ${f(percentile(miss, 50))} | ${f(percentile(miss, 90))} | ${f(percentile(miss, 99))} | ${f(percentile(hit, 50))} | ${f(percentile(hit, 90))} | ${f(percentile(hit, 99))} | ${gets} for ${2 * urls.length} GETs |`,
    );
  }
  // 2. Throughput.
  log(`throughput: seeding ${COLD_KEYS} cold keys`);
  const coldKeys = await seed(upstream, 'cold', COLD_KEYS, 64 * KiB);
  const coldUrls = await presign(client, coldKeys);
  const directUrls = await Promise.all(
    coldKeys
      .slice(0, 100)
      .map((Key) =>
        getSignedUrl(upstream, new GetObjectCommand({ Bucket: BUCKET, Key }), { expiresIn: 3600 }),
      ),
  );
  freshAgent();
  const before = proxy.seen.length;
  const missRun = await throughput(coldUrls, 64 * KiB, true);
  const missGets = proxy.seen.slice(before).filter((r) => r.method === 'GET').length;
  freshAgent();
  const hotUrls = coldUrls.slice(0, 100);
  const hitBefore = proxy.seen.length;
  const hitRun = await throughput(hotUrls, 64 * KiB, false);
  const hitGets = proxy.seen.slice(hitBefore).filter((r) => r.method === 'GET').length;
  const directRun = await throughput(directUrls, 64 * KiB, false);
  // Baseline in the same gateway process: a local (unmapped, durable store) bucket.
  await client.send(new CreateBucketCommand({ Bucket: LOCAL_BUCKET }));
  const localBody = Buffer.alloc(64 * KiB, 0x62);
  const localKeys = Array.from({ length: 100 }, (_, i) => `local/${i}`);
  for (const Key of localKeys) {
    await client.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key, Body: localBody }));
  }
  const localUrls = await Promise.all(
    localKeys.map((Key) =>
      getSignedUrl(client, new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key }), { expiresIn: 3600 }),
    ),
  );
  freshAgent();
  const localRun = await throughput(localUrls, 64 * KiB, false);
  const mibs = (b: number) => `${(b / MiB).toFixed(1)} MiB/s`;
  out.push(
    '',
    `## Upstream mode: throughput, 64 KiB objects, ${CONCURRENCY} concurrent requests`,
    '',
    '| Workload | Requests/s | Bytes/s | Upstream GETs |',
    '|---|---|---|---|',
    `| Misses (${COLD_KEYS} distinct cold keys) | ${missRun.rps.toFixed(0)} | ${mibs(missRun.bps)} | ${missGets} |`,
    `| Hits (100 hot keys, ${DURATION_MS / 1000} s) | ${hitRun.rps.toFixed(0)} | ${mibs(hitRun.bps)} | ${hitGets} |`,
    `| s3rver directly (same 100 keys, ${DURATION_MS / 1000} s) | ${directRun.rps.toFixed(0)} | ${mibs(directRun.bps)} | n/a |`,
    `| Same gateway, local durable bucket (100 keys, ${DURATION_MS / 1000} s) | ${localRun.rps.toFixed(0)} | ${mibs(localRun.bps)} | n/a |`,
  );
}

async function main(): Promise<void> {
  const s3rver = await startS3rver();
  const proxy = await startCountingProxy(s3rver.port);
  const upstream = upstreamClient(s3rver.port);
  const dirs: string[] = [];
  try {
    await upstream.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-bench-up-'));
    dirs.push(dataDir);
    // The gateway runs in a child process (through its CLI and flags), like s3rver: the load
    // generator never shares its event loop.
    const gw = await startGateway(dataDir, {
      flags: [
        '--max-bytes',
        '512MiB',
        '--cache-ttl',
        '1h',
        '--upstream-endpoint',
        `http://127.0.0.1:${proxy.port}`,
        '--upstream-access-key-id',
        S3RVER_KEY.accessKeyId,
        '--upstream-secret-access-key',
        S3RVER_KEY.secretAccessKey,
        '--upstream-force-path-style',
        'true',
        '--upstream-buckets',
        BUCKET,
      ],
    });
    const client = s3Client({ port: Number(new URL(gw.url).port) });
    const out: string[] = [];
    try {
      if (!ZIPF_ONLY) await latencyAndThroughput(out, upstream, client, proxy);
      // 3. Zipf vs cache size, through the cache layer.
      log(`zipf: seeding ${ZIPF_KEYS} × ${ZIPF_OBJECT_BYTES} B`);
      const zipfKeys = await seed(upstream, 'zipf', ZIPF_KEYS, ZIPF_OBJECT_BYTES);
      out.push(
        '',
        `## Upstream GETs for Zipf(s=1) reads: ${ZIPF_READS} reads over ${ZIPF_KEYS} keys of ${ZIPF_OBJECT_BYTES / KiB} KiB (${((ZIPF_KEYS * ZIPF_OBJECT_BYTES) / MiB).toFixed(1)} MiB)`,
        '',
        'Bytes per cached object are measured from the engine (its live bytes after the first fill); the',
        'SIEVE model replays the same trace on an exact SIEVE of budget / bytes per object objects.',
        '',
        '| Cache budget | Upstream GETs | Hit ratio | SIEVE model | Gap | Evictions |',
        '|---|---|---|---|---|---|',
      );
      for (const budget of ZIPF_CACHE_BYTES) {
        const dir = await mkdtemp(join(tmpdir(), 'blobcache-bench-zipf-'));
        dirs.push(dir);
        const config = parseConfig({
          dataDir: dir,
          upstreamEndpoint: `http://127.0.0.1:${s3rver.port}`,
          upstreamAccessKeyId: S3RVER_KEY.accessKeyId,
          upstreamSecretAccessKey: S3RVER_KEY.secretAccessKey,
          upstreamForcePathStyle: true,
          cacheTtlMs: 3_600_000,
        });
        const layer = await openUpstreamLayer({
          config: { ...config, maxBytes: budget },
          logger: pino({ level: 'silent' }),
        });
        if (!layer) throw new Error('no upstream layer');
        const cache = layer.cache;
        const sample = zipfSampler(ZIPF_KEYS, 42);
        const trace = Array.from({ length: ZIPF_READS }, sample);
        let upstreamGets = 0;
        let bytesPerObject = 0;
        for (const rank of trace) {
          const key = zipfKeys[rank] as string;
          const obj = await cache.store.openObject(BUCKET, key);
          let served = false;
          if (obj) {
            try {
              let n = 0;
              for await (const c of obj.read(0, obj.head.size)) n += c.length;
              served = n === ZIPF_OBJECT_BYTES;
            } catch {
              served = false; // chunk evicted under the head: a miss
            } finally {
              obj.release();
            }
          }
          if (served) continue;
          const r = await cache.refresh(BUCKET, key, undefined).value;
          if (r.kind !== 'fill') throw new Error(`zipf read of ${key}: ${r.kind}`);
          upstreamGets++;
          r.fill.start();
          if (!(await r.fill.done)) throw new Error(`fill of ${key} did not commit`);
          // The cache starts empty: after the first fill its live bytes are one whole object
          // (head and chunk records). An average over the cache at the end would count a head
          // whose chunk was evicted (or the reverse) as an object and overstate the capacity.
          if (upstreamGets === 1) bytesPerObject = cache.store.engine.stats().liveBytes;
        }
        const stats = cache.store.engine.stats() as { liveBytes: number; evictions?: number };
        const capacity = budget / bytesPerObject;
        const model = sieveHitRatio(trace, Math.floor(capacity));
        const measured = 1 - upstreamGets / ZIPF_READS;
        out.push(
          `| ${(budget / MiB).toFixed(0)} MiB | ${upstreamGets} | ${measured.toFixed(3)} | ${model.toFixed(3)} (${Math.floor(capacity)} objects of ${(bytesPerObject / KiB).toFixed(1)} KiB) | ${(measured - model).toFixed(3)} | ${stats.evictions ?? 0} |`,
        );
        await layer.close();
      }
      process.stdout.write(`${out.join('\n')}\n`);
    } finally {
      client.destroy();
      await gw.stop();
    }
  } finally {
    agent.destroy();
    upstream.destroy();
    await proxy.close();
    await s3rver.kill();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

await main();
