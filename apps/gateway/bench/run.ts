// Gateway benchmark: the S3 gateway in a child process (started through its CLI with --port 0 and
// a temp data dir) under wrk, against baselines measured in the same run with the same client
// settings: a plain node:http server answering a preallocated buffer (the ceiling), the same
// through Hono + @hono/node-server (the gateway's framework, for the 4 KiB cases) and s3rver.
// Prints one markdown table (absolute numbers, ratio to the baseline, target). No assertions on
// speed; correctness is checked (status of every response, body lengths, read-back of PUTs, the
// 1 GiB object's SHA-256, every listed key). Bounded: each wrk run lasts BENCH_DURATION_SEC
// (default 10 s), data lives in one temp dir removed at the end; loopback only.
//
// Usage: node bench/run.ts        (BENCH_DURATION_SEC=3 for a quick smoke run; BENCH_CASES=small
//        (or large, memory, comma-separated) runs only those cases, for before/after comparisons)
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { procMemory, type RunningChild, startCeiling, startGateway, startS3rver } from './children.ts';
import { closeAgent, getHashed } from './http-client.ts';
import { measureMemoryPeak, putLargeVerified } from './large-object.ts';
import { LIST_KEYS, listKeys, listWithSdk, PAGE_KEYS, presignPages, seedListBucket } from './listing.ts';
import {
  type Detail,
  formatBytesPerSec,
  formatCount,
  formatMiB,
  type Row,
  renderDetails,
  renderRows,
} from './report.ts';
import { BenchSigner, type Endpoint, writeRequestFile } from './signing.ts';
import {
  headerSignGets,
  headerSignPuts,
  keyName,
  presignAll,
  SMALL_BYTES,
  seedObjects,
  verifyPuts,
} from './small-objects.ts';
import {
  bytesPerSec,
  ensureWrk,
  requestsPerSec,
  runWrk,
  type WrkResult,
  type WrkSettings,
  wrkVersion,
} from './wrk.ts';

const DURATION_SEC = Number(process.env.BENCH_DURATION_SEC ?? 10);
const CASES = new Set((process.env.BENCH_CASES ?? 'small,large,memory').split(','));
const SMALL_LOAD: WrkSettings = { threads: 2, connections: 64, durationSec: DURATION_SEC, timeoutSec: 10 };
const LARGE_LOAD: WrkSettings = { threads: 2, connections: 8, durationSec: DURATION_SEC, timeoutSec: 30 };
const LIST_LOAD: WrkSettings = { threads: 2, connections: 8, durationSec: DURATION_SEC, timeoutSec: 10 };
const WARMUP_SEC = 2;
const MiB = 2 ** 20;
const LARGE_BYTES = 64 * MiB;
const MEMORY_BYTES = 1024 * MiB;
const MAX_PEAK_RSS_BYTES = 300 * MiB;
const MIN_LIST_KEYS_PER_SEC = 50_000;
const GET_OBJECTS = 2000;
const PUT_KEYS = 40_000;
const S3RVER_PUT_KEYS = 10_000;
const BUCKET = 'bench';
const GATEWAY_KEYS = { accessKeyId: 'blobcache', secretAccessKey: 'blobcache-secret', region: 'us-east-1' };
const S3RVER_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' };

const rows: Row[] = [];
const details: Detail[] = [];
const notes: string[] = [];
const running = new Set<RunningChild>();

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs bench/upstream.ts in a child process, its stdout (markdown tables) appended to ours. */
function runUpstreamBench(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'upstream.ts')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bench/upstream.ts exited with ${code}`)),
    );
  });
}

async function track(start: Promise<RunningChild>): Promise<RunningChild> {
  const child = await start;
  running.add(child);
  return child;
}

async function stop(child: RunningChild): Promise<void> {
  running.delete(child);
  await child.stop();
}

function settingsText(s: WrkSettings): string {
  return `wrk -t${s.threads} -c${s.connections} -d${s.durationSec}s`;
}

async function measure(
  wrk: string,
  run: string,
  settings: WrkSettings,
  url: string,
  file: string,
  opts: Parameters<typeof runWrk>[4] = {},
): Promise<WrkResult> {
  log(`[${run}] ${settingsText(settings)}`);
  const result = await runWrk(wrk, settings, url, file, opts);
  details.push({ run, result });
  log(
    `[${run}] ${formatCount(requestsPerSec(result), 'req/s')}, ${formatBytesPerSec(bytesPerSec(result))}, ` +
      `non-2xx ${result.non2xx}${result.firstBad ? ` (first: ${result.firstBad.slice(0, 200)})` : ''}`,
  );
  return result;
}

/** A short unrecorded run first, so no server is measured while its code is still cold (JIT). */
async function warm(
  wrk: string,
  url: string,
  file: string,
  opts: Parameters<typeof runWrk>[4] = {},
): Promise<void> {
  await runWrk(wrk, { ...SMALL_LOAD, durationSec: WARMUP_SEC }, url, file, opts);
}

function errorsOf(r: WrkResult): number {
  const s = r.socketErrors;
  return r.non2xx + s.connect + s.read + s.write + s.timeout;
}

function ratioRow(
  metric: string,
  gateway: WrkResult,
  baselineName: string,
  baseline: WrkResult | undefined,
  target: number | undefined,
  per: (r: WrkResult) => number = requestsPerSec,
  format: (v: number) => string = (v) => formatCount(v, 'req/s'),
): void {
  const g = per(gateway);
  const b = baseline === undefined ? undefined : per(baseline);
  const ratio = b === undefined ? undefined : g / b;
  rows.push({
    metric,
    gateway: format(g),
    baseline: baselineName,
    baselineValue: b === undefined ? 'not measured' : format(b),
    ratio,
    target: target === undefined ? '-' : `>= ${target}x`,
    met: target === undefined || ratio === undefined ? undefined : ratio >= target && errorsOf(gateway) === 0,
    errors: errorsOf(gateway),
  });
}

/**
 * Keys certainly written by a PUT run: wrk's first thread sends lines 2, 3, ... (wrk calls
 * request() once on each thread to validate the script, which consumes line 1).
 */
function writtenSample(keys: string[]): string[] {
  return [keys[1]!, keys[2]!];
}

async function smallObjectCases(wrk: string, root: string): Promise<void> {
  const dir = path.join(root, 'small');
  await fs.mkdir(dir);
  const file = (name: string): string => path.join(dir, `${name}.txt`);

  const gateway = await track(startGateway(path.join(root, 'gateway-data')));
  const gw = new BenchSigner({ url: gateway.url, ...GATEWAY_KEYS } satisfies Endpoint);
  await gw.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  log(`[setup] seeding ${GET_OBJECTS} x 4 KiB objects into the gateway, presigning ${PUT_KEYS} PUT keys`);
  const getKeys = await seedObjects(gw, BUCKET, 'get', GET_OBJECTS);
  await writeRequestFile(file('gw-get'), await presignAll(gw, 'GET', BUCKET, getKeys));
  const putKeys = Array.from({ length: PUT_KEYS }, (_, i) => keyName('put', i));
  await writeRequestFile(file('gw-put'), await presignAll(gw, 'PUT', BUCKET, putKeys));

  // The ceiling answers any path: it replays the gateway's request files (same request bytes).
  const ceiling = await track(startCeiling(SMALL_BYTES));
  await warm(wrk, ceiling.url, file('gw-get'));
  const ceilGet = await measure(wrk, 'ceiling GET 4 KiB', SMALL_LOAD, ceiling.url, file('gw-get'), {
    expectBodyBytes: SMALL_BYTES,
  });
  const ceilPut = await measure(wrk, 'ceiling PUT 4 KiB', SMALL_LOAD, ceiling.url, file('gw-put'), {
    bodyBytes: SMALL_BYTES,
  });
  await stop(ceiling);
  // The gateway's framework answering the same buffer: how much of the gap is Hono + adapter.
  const hono = await track(startCeiling(SMALL_BYTES, 'hono'));
  await warm(wrk, hono.url, file('gw-get'));
  const honoGet = await measure(wrk, 'Hono ceiling GET 4 KiB', SMALL_LOAD, hono.url, file('gw-get'), {
    expectBodyBytes: SMALL_BYTES,
  });
  const honoPut = await measure(wrk, 'Hono ceiling PUT 4 KiB', SMALL_LOAD, hono.url, file('gw-put'), {
    bodyBytes: SMALL_BYTES,
  });
  await stop(hono);

  await warm(wrk, gateway.url, file('gw-get'));
  const gwGet = await measure(wrk, 'gateway GET 4 KiB presigned', SMALL_LOAD, gateway.url, file('gw-get'), {
    expectBodyBytes: SMALL_BYTES,
  });
  // Header signatures expire with the clock-skew window: made right before use.
  await writeRequestFile(file('gw-get-hdr'), await headerSignGets(gw, BUCKET, getKeys));
  const gwGetHdr = await measure(
    wrk,
    'gateway GET 4 KiB header-signed',
    SMALL_LOAD,
    gateway.url,
    file('gw-get-hdr'),
    {
      expectBodyBytes: SMALL_BYTES,
    },
  );
  const gwPut = await measure(wrk, 'gateway PUT 4 KiB presigned', SMALL_LOAD, gateway.url, file('gw-put'), {
    bodyBytes: SMALL_BYTES,
  });
  if (gwPut.requests > PUT_KEYS)
    notes.push(`The presigned PUT run wrapped around its ${PUT_KEYS} keys (later PUTs replaced objects).`);
  await verifyPuts(gw, BUCKET, writtenSample(putKeys));
  const hdrKeys = Array.from({ length: PUT_KEYS / 2 }, (_, i) => keyName('put-hdr', i));
  await writeRequestFile(file('gw-put-hdr'), await headerSignPuts(gw, BUCKET, hdrKeys));
  const gwPutHdr = await measure(
    wrk,
    'gateway PUT 4 KiB header-signed',
    SMALL_LOAD,
    gateway.url,
    file('gw-put-hdr'),
    {
      bodyBytes: SMALL_BYTES,
    },
  );
  if (gwPutHdr.requests > hdrKeys.length) {
    notes.push(
      `The header-signed PUT run wrapped around its ${hdrKeys.length} keys (later PUTs replaced objects).`,
    );
  }
  await verifyPuts(gw, BUCKET, writtenSample(hdrKeys));
  await stop(gateway);

  // s3rver: the same workload with its own keys (it checks no signature, but gets valid ones).
  const s3rver = await track(startS3rver(path.join(root, 's3rver-data'), [BUCKET]));
  const s3 = new BenchSigner({ url: s3rver.url, ...S3RVER_KEYS });
  log(`[setup] seeding ${GET_OBJECTS} x 4 KiB objects into s3rver`);
  const s3GetKeys = await seedObjects(s3, BUCKET, 'get', GET_OBJECTS);
  await writeRequestFile(file('s3-get'), await presignAll(s3, 'GET', BUCKET, s3GetKeys));
  const s3PutKeys = Array.from({ length: S3RVER_PUT_KEYS }, (_, i) => keyName('put', i));
  await writeRequestFile(file('s3-put'), await presignAll(s3, 'PUT', BUCKET, s3PutKeys));
  await warm(wrk, s3rver.url, file('s3-get'));
  const s3Get = await measure(wrk, 's3rver GET 4 KiB presigned', SMALL_LOAD, s3rver.url, file('s3-get'), {
    expectBodyBytes: SMALL_BYTES,
  });
  const s3Put = await measure(wrk, 's3rver PUT 4 KiB presigned', SMALL_LOAD, s3rver.url, file('s3-put'), {
    bodyBytes: SMALL_BYTES,
  });
  await stop(s3rver);
  if (errorsOf(s3Get) + errorsOf(s3Put) > 0)
    notes.push('s3rver answered some requests with errors: see the wrk runs.');

  ratioRow('GET 4 KiB, SigV4 presigned', gwGet, 'node:http ceiling', ceilGet, 0.7);
  ratioRow('GET 4 KiB, SigV4 header-signed', gwGetHdr, 'node:http ceiling', ceilGet, 0.7);
  ratioRow('GET 4 KiB, SigV4 presigned', gwGet, 's3rver 3.7.1', s3Get, 5);
  ratioRow('GET 4 KiB, SigV4 presigned', gwGet, 'Hono + @hono/node-server, same buffer', honoGet, undefined);
  ratioRow(
    'PUT 4 KiB durable, presigned (UNSIGNED-PAYLOAD)',
    gwPut,
    'node:http ceiling (drains body)',
    ceilPut,
    0.4,
  );
  ratioRow(
    'PUT 4 KiB durable, header-signed (payload SHA-256)',
    gwPutHdr,
    'node:http ceiling (drains body)',
    ceilPut,
    0.4,
  );
  ratioRow('PUT 4 KiB durable, presigned (UNSIGNED-PAYLOAD)', gwPut, 's3rver 3.7.1', s3Put, 5);
  ratioRow(
    'PUT 4 KiB durable, presigned (UNSIGNED-PAYLOAD)',
    gwPut,
    'Hono + @hono/node-server (drains body)',
    honoPut,
    undefined,
  );
  ratioRow('Framework floor: Hono GET 4 KiB', honoGet, 'node:http ceiling', ceilGet, undefined);
}

async function largeAndListCases(wrk: string, root: string): Promise<void> {
  const dir = path.join(root, 'large');
  await fs.mkdir(dir);
  const file = (name: string): string => path.join(dir, `${name}.txt`);
  const gateway = await track(startGateway(path.join(root, 'gateway-large-data')));
  const gw = new BenchSigner({ url: gateway.url, ...GATEWAY_KEYS });
  await gw.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  log('[setup] one 64 MiB object (streamed, read back and hashed)');
  await putLargeVerified(gw, BUCKET, 'large.bin', LARGE_BYTES);
  await writeRequestFile(file('large'), await presignAll(gw, 'GET', BUCKET, ['large.bin']));

  log(`[setup] ${LIST_KEYS} keys in bucket "list"`);
  await gw.client.send(new CreateBucketCommand({ Bucket: 'list' }));
  const keys = listKeys();
  await seedListBucket(gw, 'list', keys);
  const sdkRuns = 3;
  let sdkMs = 0;
  let tokens: string[] = [];
  for (let i = 0; i < sdkRuns; i++) {
    const listing = await listWithSdk(gw, 'list', keys);
    sdkMs += listing.ms;
    tokens = listing.tokens;
  }
  const pages = await presignPages(gw, 'list', tokens);
  await writeRequestFile(file('list'), pages);
  const pageBytes = (await getHashed(gw.url(pages[1]!))).bytes;

  // 64 MiB bodies are not copied into Lua (that would cost wrk more than the server): wrk counts
  // status >= 400 itself, and the byte count per response is checked here.
  const noCopy = { checkBodies: false };
  await warm(wrk, gateway.url, file('large'), noCopy);
  const gwLarge = await measure(wrk, 'gateway GET 64 MiB', LARGE_LOAD, gateway.url, file('large'), noCopy);
  const afterLarge = procMemory(gateway.pid);
  await warm(wrk, gateway.url, file('list'));
  const gwList = await measure(
    wrk,
    `gateway ListObjectsV2 ${PAGE_KEYS}/page`,
    LIST_LOAD,
    gateway.url,
    file('list'),
  );
  await stop(gateway);

  let ceiling = await track(startCeiling(LARGE_BYTES));
  await warm(wrk, ceiling.url, file('large'), noCopy);
  const ceilLarge = await measure(wrk, 'ceiling GET 64 MiB', LARGE_LOAD, ceiling.url, file('large'), noCopy);
  await stop(ceiling);
  ceiling = await track(startCeiling(pageBytes));
  await warm(wrk, ceiling.url, file('list'));
  const ceilList = await measure(
    wrk,
    `ceiling GET ${(pageBytes / 1024).toFixed(0)} KiB (one list page's size)`,
    LIST_LOAD,
    ceiling.url,
    file('list'),
  );
  await stop(ceiling);

  for (const r of [gwLarge, ceilLarge]) {
    // wrk's bytes include responses still in flight at the end: at least a full body per response.
    const perResponse = r.bytes / r.requests;
    if (r.requests > 0 && perResponse < LARGE_BYTES)
      throw new Error(`64 MiB GET: only ${perResponse.toFixed(0)} bytes per response`);
  }
  rows.push({
    metric: `Gateway RSS after ${LARGE_LOAD.connections} concurrent 64 MiB GETs for ${LARGE_LOAD.durationSec} s`,
    gateway: `${formatMiB(afterLarge.rssBytes)} (peak ${formatMiB(afterLarge.peakRssBytes)})`,
    baseline: '-',
    baselineValue: '-',
    ratio: undefined,
    target: 'info (the 300 MiB target is for one 1 GiB transfer)',
    met: undefined,
    errors: undefined,
  });
  ratioRow(
    'GET 64 MiB (bytes/s)',
    gwLarge,
    'node:http ceiling, 64 MiB buffer',
    ceilLarge,
    0.6,
    bytesPerSec,
    formatBytesPerSec,
  );

  const keysPerSec = (r: WrkResult): number => requestsPerSec(r) * PAGE_KEYS;
  const listRate = keysPerSec(gwList);
  rows.push({
    metric: `ListObjectsV2, ${LIST_KEYS} keys, ${PAGE_KEYS}/page, presigned (wrk ${LIST_LOAD.connections} conns)`,
    gateway: formatCount(listRate, 'keys/s'),
    baseline: 'node:http ceiling, same-size body',
    baselineValue: formatCount(keysPerSec(ceilList), 'keys/s'),
    ratio: listRate / keysPerSec(ceilList),
    target: `>= ${formatCount(MIN_LIST_KEYS_PER_SEC, 'keys/s')}`,
    met: listRate >= MIN_LIST_KEYS_PER_SEC && errorsOf(gwList) === 0,
    errors: errorsOf(gwList),
  });
  rows.push({
    metric: `ListObjectsV2, ${LIST_KEYS} keys, SDK paging one client (every key checked)`,
    gateway: formatCount((sdkRuns * LIST_KEYS) / (sdkMs / 1000), 'keys/s'),
    baseline: '-',
    baselineValue: '-',
    ratio: undefined,
    target: 'info (client-bound)',
    met: undefined,
    errors: 0,
  });
}

async function memoryCase(root: string): Promise<void> {
  const dataDir = path.join(root, 'gateway-memory-data');
  const gateway = await track(startGateway(dataDir));
  try {
    const gw = new BenchSigner({ url: gateway.url, ...GATEWAY_KEYS });
    await gw.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    log('[memory] 1 GiB streamed upload, then download (hashed and compared), gateway RSS sampled');
    const m = await measureMemoryPeak(gateway, gw, BUCKET, MEMORY_BYTES);
    log(`[memory] peak RSS ${formatMiB(m.peakRssBytes)} (idle ${formatMiB(m.idleRssBytes)})`);
    rows.push({
      metric: 'Gateway peak RSS (VmHWM), 1 GiB upload + download',
      gateway: `${formatMiB(m.peakRssBytes)} (sampled max ${formatMiB(m.sampledMaxRssBytes)})`,
      baseline: 'idle RSS after start',
      baselineValue: formatMiB(m.idleRssBytes),
      ratio: m.peakRssBytes / m.idleRssBytes,
      target: `<= ${formatMiB(MAX_PEAK_RSS_BYTES)}`,
      met: m.peakRssBytes <= MAX_PEAK_RSS_BYTES,
      errors: 0,
    });
    rows.push({
      metric: '1 GiB PutObject streamed (presigned, durable) / GetObject',
      gateway: `${formatBytesPerSec(MEMORY_BYTES / (m.uploadMs / 1000))} / ${formatBytesPerSec(MEMORY_BYTES / (m.downloadMs / 1000))}`,
      baseline: '-',
      baselineValue: '-',
      ratio: undefined,
      target: 'info (one client)',
      met: undefined,
      errors: 0,
    });
  } finally {
    await stop(gateway);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gateway-bench-'));
const started = Date.now();
let wrkLine = 'wrk not available';
try {
  const wrk = ensureWrk(log);
  if (wrk === undefined) {
    notes.push('wrk could not be installed: every HTTP load case was SKIPPED.');
  } else {
    wrkLine = wrkVersion(wrk);
    if (CASES.has('small')) {
      await smallObjectCases(wrk, root);
      await fs.rm(path.join(root, 'gateway-data'), { recursive: true, force: true });
      await fs.rm(path.join(root, 's3rver-data'), { recursive: true, force: true });
    }
    if (CASES.has('large')) {
      await largeAndListCases(wrk, root);
      await fs.rm(path.join(root, 'gateway-large-data'), { recursive: true, force: true });
    }
  }
  if (CASES.has('memory')) await memoryCase(root);

  const out: string[] = [];
  out.push('# @blobcache/gateway benchmark');
  out.push('');
  out.push(
    `Date ${new Date().toISOString()}; ${os.cpus()[0]?.model ?? 'cpu'}; nproc ${os.availableParallelism()}; ` +
      `${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM; node ${process.version}; ${os.platform()} ${os.release()}; ` +
      `${wrkLine}; data in ${os.tmpdir()}; total ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
  out.push('');
  out.push(
    `Load: ${settingsText(SMALL_LOAD)} for 4 KiB cases, ${settingsText(LARGE_LOAD)} for 64 MiB, ` +
      `${settingsText(LIST_LOAD)} for listing; each after a ${WARMUP_SEC} s unrecorded warm-up. Every server (gateway, ceiling, s3rver) runs in its own ` +
      'child process on loopback; wrk replays requests signed beforehand by the AWS SDK (presigned: query auth, ' +
      '7-day expiry; header-signed: Authorization header, replayed within the clock-skew window). Ratios compare ' +
      'numbers measured in this run. A row is met only with zero non-2xx responses.',
  );
  out.push('');
  out.push(...renderRows(rows));
  out.push('');
  if (notes.length > 0) {
    out.push(...notes.map((n) => `- ${n}`));
    out.push('');
  }
  out.push('wrk runs:');
  out.push('');
  out.push(...renderDetails(details));
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
  // Upstream mode (read-through cache) has its own script; its tables follow this report.
  if (process.env.BENCH_SKIP_UPSTREAM !== '1') await runUpstreamBench();
} finally {
  for (const child of running) await child.stop();
  closeAgent();
  await fs.rm(root, { recursive: true, force: true });
}
