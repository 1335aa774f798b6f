// CPU profile of the gateway's hot path: the gateway child runs with `node --cpu-prof` while wrk
// replays presigned 4 KiB GETs (or PUTs) for BENCH_DURATION_SEC; on SIGTERM the child exits and
// writes its .cpuprofile, which is summarised here (self time per function and per package).
// Not part of `npm run bench`: run it when a target is missed.
//
// Also prints the gateway process's CPU time per request (user + system, from /proc/<pid>/stat),
// which moves far less with the machine's load than req/s does: compare that between builds.
// BENCH_NO_PROF=1 skips the profiler (CPU per request without the profiler's own overhead).
//
// `large` replays GETs of one 64 MiB object with 8 connections (the bench's large-object case) and
// reports CPU per MiB sent instead of per request.
//
// Usage: node bench/profile.ts [get|put|list|large] [--log-level <level>]
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { procMemory, startGateway } from './children.ts';
import { closeAgent } from './http-client.ts';
import { putLargeVerified } from './large-object.ts';
import { listKeys, listWithSdk, presignPages, seedListBucket } from './listing.ts';
import { BenchSigner, writeRequestFile } from './signing.ts';
import { keyName, presignAll, SMALL_BYTES, seedObjects } from './small-objects.ts';
import { ensureWrk, requestsPerSec, runWrk } from './wrk.ts';

const MODES = ['get', 'put', 'list', 'large'] as const;
const LARGE_BYTES = 64 * 2 ** 20;
const mode: (typeof MODES)[number] = MODES.find((m) => m === process.argv[2]) ?? 'get';
const levelAt = process.argv.indexOf('--log-level');
const flags = levelAt > 0 ? ['--log-level', process.argv[levelAt + 1] ?? 'info'] : [];
const DURATION_SEC = Number(process.env.BENCH_DURATION_SEC ?? 10);
const TOP = 30;
const PROFILE = process.env.BENCH_NO_PROF !== '1';
/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) per thread name of process `pid` (threads of one name summed; the main thread as "main"). */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // The event loop's thread (tid = pid) apart from the others called "node" (V8, workers).
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const name = tid === String(pid) ? 'main' : comm;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / USER_HZ);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return out;
}

/** The store engine's WAL fdatasync count from the gateway's /_blobcache/metrics (loopback: no auth). */
async function walSyncs(url: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${url}/_blobcache/metrics`)).text();
    const m = /^blobcache_engine_wal_syncs_total\{[^}]*engine="store"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** User and system CPU seconds used so far by process `pid`. */
function cpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / USER_HZ, system: Number(fields[12]) / USER_HZ };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node core';
  const repo = url.indexOf('/work/main/');
  return repo >= 0
    ? url
        .slice(repo + '/work/main/'.length)
        .split('/')
        .slice(0, 2)
        .join('/')
    : url;
}

function summarise(profile: CpuProfile): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '');
    const fn = `${frame.functionName || '(anonymous)'} ${file ? `${file.replace('/work/main/', '')}:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = ['(idle)', '(program)', '(garbage collector)'].includes(frame.functionName)
      ? frame.functionName
      : where(frame.url.replace(/^file:\/\//, ''));
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => {
    const file = n.callFrame.url
      .replace(/^file:\/\//, '')
      .replace(/^.*node_modules\//, '')
      .replace('/work/main/', '');
    return `${n.callFrame.functionName || '(anonymous)'} ${file ? `${file}:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
      onStack.add(label(byId.get(cur)!));
    for (const fn of onStack) inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1)}%`;
  const out = [
    `Total sampled: ${(total / 1e6).toFixed(1)} s`,
    '',
    '| Self | Package / area |',
    '| --- | --- |',
  ];
  for (const [pkg, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15))
    out.push(`| ${pct(us)} | ${pkg} |`);
  out.push('', '| Self | Function |', '| --- | --- |');
  for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    out.push(`| ${pct(us)} | \`${fn}\` |`);
  out.push('', '| Inclusive | Function (self + callees) |', '| --- | --- |');
  for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, TOP * 2))
    out.push(`| ${pct(us)} | \`${fn}\` |`);
  return out;
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'gateway-profile-'));
const keys = { accessKeyId: 'blobcache', secretAccessKey: 'blobcache-secret', region: 'us-east-1' };
try {
  const wrk = ensureWrk((l) => process.stderr.write(`${l}\n`));
  if (wrk === undefined) throw new Error('wrk is needed to profile');
  const dataDir = path.join(root, 'data');
  const file = path.join(root, 'requests.txt');
  // Seed with an unprofiled gateway, so the profile holds only startup and the measured load.
  const seeder = await startGateway(dataDir);
  let tokens: string[] = [];
  try {
    const gw = new BenchSigner({ url: seeder.url, ...keys });
    await gw.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    if (mode === 'get') await seedObjects(gw, 'bench', 'get', 2000);
    if (mode === 'large') await putLargeVerified(gw, 'bench', 'large.bin', LARGE_BYTES);
    if (mode === 'list') {
      await seedListBucket(gw, 'bench', listKeys());
      tokens = (await listWithSdk(gw, 'bench', listKeys())).tokens;
    }
  } finally {
    await seeder.stop();
  }
  const profDir = path.join(root, 'prof');
  const gateway = await startGateway(dataDir, {
    nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    flags,
  });
  let rps = 0;
  let cpuUsPerRequest = { user: 0, system: 0 };
  let threadLine = '';
  try {
    const gw = new BenchSigner({ url: gateway.url, ...keys });
    if (mode === 'list') {
      await writeRequestFile(file, await presignPages(gw, 'bench', tokens));
    } else if (mode === 'large') {
      await writeRequestFile(file, await presignAll(gw, 'GET', 'bench', ['large.bin']));
    } else {
      const names =
        mode === 'get'
          ? Array.from({ length: 2000 }, (_, i) => keyName('get', i))
          : Array.from({ length: 40_000 }, (_, i) => keyName('put', i));
      await writeRequestFile(file, await presignAll(gw, mode === 'get' ? 'GET' : 'PUT', 'bench', names));
    }
    const settings = {
      threads: 2,
      connections: mode === 'list' || mode === 'large' ? 8 : 64,
      durationSec: DURATION_SEC,
      timeoutSec: mode === 'large' ? 30 : 10,
    };
    const syncsBefore = await walSyncs(gateway.url);
    const cpuBefore = cpuSeconds(gateway.pid);
    const threadsBefore = threadSeconds(gateway.pid);
    const r = await runWrk(wrk, settings, gateway.url, file, {
      bodyBytes: mode === 'put' ? SMALL_BYTES : 0,
      expectBodyBytes: mode === 'get' ? SMALL_BYTES : 0,
      // 64 MiB bodies are not copied into Lua (as in the bench); wrk still counts bad statuses.
      checkBodies: mode !== 'large',
    });
    // Per request, or per MiB sent for 64 MiB GETs (wrk's bytes: what the gateway wrote).
    const units = mode === 'large' ? r.bytes / 2 ** 20 : r.requests;
    const cpuAfter = cpuSeconds(gateway.pid);
    const perThread: string[] = [];
    for (const [name, sec] of threadSeconds(gateway.pid)) {
      const us = ((sec - (threadsBefore.get(name) ?? 0)) * 1e6) / units;
      if (us >= 0.5) perThread.push(`${name} ${us.toFixed(1)}`);
    }
    threadLine = `CPU us/${mode === 'large' ? 'MiB' : 'request'} by thread: ${perThread.join(', ')}`;
    if (mode === 'large') {
      const mem = procMemory(gateway.pid);
      threadLine +=
        `; ${(r.bytes / 2 ** 30 / r.durationSec).toFixed(2)} GiB/s, ${r.requests} responses; ` +
        `RSS after ${(mem.rssBytes / 2 ** 20).toFixed(0)} MiB (peak ${(mem.peakRssBytes / 2 ** 20).toFixed(0)} MiB)`;
    }
    const syncsAfter = await walSyncs(gateway.url);
    if (mode === 'put' && syncsBefore !== undefined && syncsAfter !== undefined && syncsAfter > syncsBefore)
      threadLine += `; WAL: ${syncsAfter - syncsBefore} fdatasyncs, ${(r.requests / (syncsAfter - syncsBefore)).toFixed(1)} PUTs per fdatasync`;
    cpuUsPerRequest = {
      user: ((cpuAfter.user - cpuBefore.user) * 1e6) / units,
      system: ((cpuAfter.system - cpuBefore.system) * 1e6) / units,
    };
    rps = requestsPerSec(r);
    if (r.non2xx > 0) throw new Error(`non-2xx responses while profiling: ${r.firstBad}`);
  } finally {
    await gateway.stop();
    closeAgent();
  }
  const what =
    mode === 'list'
      ? 'ListObjectsV2 pages of 1000 keys'
      : mode === 'large'
        ? 'GET 64 MiB'
        : `${mode.toUpperCase()} 4 KiB`;
  const per = mode === 'large' ? 'MiB' : 'request';
  const headline =
    `# Gateway CPU profile: ${what} ` +
    `presigned, wrk -t2 -c${mode === 'list' || mode === 'large' ? 8 : 64} -d${DURATION_SEC}s, ` +
    `${rps.toFixed(0)} req/s, gateway CPU ${(cpuUsPerRequest.user + cpuUsPerRequest.system).toFixed(1)} us/${per} ` +
    `(user ${cpuUsPerRequest.user.toFixed(1)}, system ${cpuUsPerRequest.system.toFixed(1)})` +
    `${PROFILE ? ' while profiling' : ' (not profiled)'}${flags.length ? ` (${flags.join(' ')})` : ''}`;
  if (!PROFILE) process.stdout.write(`${headline}\n${threadLine}\n`);
  else await printProfile(profDir, headline);
} finally {
  await fs.rm(root, { recursive: true, force: true });
}

async function printProfile(profDir: string, headline: string): Promise<void> {
  const [name] = await fs.readdir(profDir);
  if (name === undefined)
    throw new Error('the gateway wrote no .cpuprofile (did it exit cleanly on SIGTERM?)');
  const profile = JSON.parse(await fs.readFile(path.join(profDir, name), 'utf8')) as CpuProfile;
  if (process.env.BENCH_KEEP_PROFILE)
    await fs.copyFile(path.join(profDir, name), process.env.BENCH_KEEP_PROFILE);
  const lines = [headline, '', ...summarise(profile)];
  process.stdout.write(`${lines.join('\n')}\n`);
}
