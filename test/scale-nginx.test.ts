// The compose `scale` recipe end to end, without Docker: a real nginx runs infra/nginx/scale.conf
// (only the lines marked `# test:` are rewritten: gateway addresses, listen address, pid and log
// paths, plus temp paths under the test's own prefix) in front of three real gateways in
// read-through mode, all caching the same s3rver. The AWS SDK talks only to nginx.
//
// What must hold: signatures survive the proxy (Host, path, query, x-amz-meta_* with underscores),
// bytes round-trip, every request about one key reaches one gateway (its second read is a cache
// HIT, and nginx's own log names one upstream per key), keys spread over all three gateways, and a
// multipart upload and a large download stream through.
//
// nginx comes from Debian's package (.ci/run installs it). Missing nginx: installed here with
// apt-get (as root, or through `sudo -n`); if that is impossible the suite FAILS with a message
// saying how to install it. It never skips: only suites that need a Docker engine may.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DEV_CREDENTIAL, type RunningGateway, startGateway } from '@blobcache/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChildS3rver,
  S3RVER_KEY,
  startS3rver,
  upstreamClient,
} from '../apps/gateway/src/upstream/testing/upstream-harness.ts';
import { REPO_ROOT, tempDir } from './support/gateway.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const BUCKET = 'shared';
const KEYS_PER_KIND = 24;

// ---- finding (or installing) nginx ----

async function findNginx(): Promise<string | undefined> {
  try {
    const { stdout } = await run('which', ['nginx']);
    if (stdout.trim() !== '') return stdout.trim();
  } catch {
    // `which` exits 1 when nothing is found.
  }
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
}

/** Debian's package, as root or through passwordless sudo; bounded in time. */
async function installNginx(): Promise<string> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { env, timeout: 300_000, maxBuffer: 16 * MiB };
  const aptGet = (args: string[]) =>
    process.getuid?.() === 0 ? run('apt-get', args, opts) : run('sudo', ['-n', 'apt-get', ...args], opts);
  try {
    await aptGet(['update', '-qq']);
    // Debian's `nginx` is the core server (nginx-light/-full only add modules on top).
    await aptGet(['install', '-y', '-qq', '--no-install-recommends', 'nginx']);
    return 'installed';
  } catch (err) {
    return `apt-get failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

let nginxBin = await findNginx();
let nginxProblem = '';
if (!nginxBin) {
  nginxProblem = await installNginx();
  nginxBin = await findNginx();
}
const why = `nginx not found (which nginx, /usr/sbin/nginx; ${nginxProblem}); install Debian's nginx package (apt-get install nginx)`;
const title = 'scale recipe: nginx (infra/nginx/scale.conf) + three read-through gateways';

// ---- the config: infra/nginx/scale.conf with only the marked lines rewritten ----

type Rendered = { text: string; accessLog: string; errorLog: string };

function renderScaleConf(
  template: string,
  dir: string,
  gatewayPorts: number[],
  listenPort: number,
): Rendered {
  const accessLog = join(dir, 'access.log');
  const errorLog = join(dir, 'error.log');
  const replaced = new Set<string>();
  const lines = template.split('\n').map((line) => {
    const mark = /;\s*#\s*test:\s*(.+)$/.exec(line)?.[1]?.trim();
    if (mark === undefined) return line;
    replaced.add(mark);
    const gw = /^gateway (\d)$/.exec(mark);
    if (gw) {
      const port = gatewayPorts[Number(gw[1]) - 1];
      if (port === undefined) throw new Error(`no gateway for ${mark}`);
      return line.replace(/gateway-\d:9000/, `127.0.0.1:${port}`);
    }
    if (mark === 'listen') return line.replace(/listen\s+9000;/, `listen 127.0.0.1:${listenPort};`);
    if (mark === 'pid') return line.replace(/pid\s+\S+;/, `pid ${join(dir, 'nginx.pid')};`);
    if (mark === 'error_log') return line.replace('/dev/stderr', errorLog);
    if (mark === 'access_log') return line.replace('/dev/stdout', accessLog);
    throw new Error(`unknown test mark in scale.conf: ${mark}`);
  });
  const expected = ['gateway 1', 'gateway 2', 'gateway 3', 'listen', 'pid', 'error_log', 'access_log'];
  for (const m of expected) if (!replaced.has(m)) throw new Error(`scale.conf lost its "# test: ${m}" line`);
  // The Debian binary's compiled-in temp paths are under /var/lib/nginx; keep them in the prefix.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `    ${t}_temp_path ${join(dir, `${t}_temp`)};`)
    .join('\n');
  const text = lines.join('\n').replace(/^http \{$/m, `http {\n${temp}`);
  if (!text.includes('proxy_temp_path')) throw new Error('scale.conf has no top-level "http {" line');
  return { text, accessLog, errorLog };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, errorLog: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      throw new Error(`nginx exited with ${child.exitCode}: ${log}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not listen on ${port} within 15s`);
}

// ---- reading what happened ----

type LogLine = { method: string; uri: string; status: number; upstream: string; cache: string };

async function accessLog(path: string): Promise<LogLine[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

function pathOf(uri: string): string {
  const q = uri.indexOf('?');
  return q >= 0 ? uri.slice(0, q) : uri;
}

/** Sends a command and returns its output with the raw response's x-cache header. */
async function getWithCache(
  s3: S3Client,
  key: string,
): Promise<{ out: GetObjectCommandOutput; cache: string | undefined }> {
  const cmd = new GetObjectCommand({ Bucket: BUCKET, Key: key });
  let cache: string | undefined;
  cmd.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> }).headers ?? {};
      cache = headers['x-cache'];
      return result;
    },
    { step: 'deserialize', name: 'captureXCache' },
  );
  const out = await s3.send(cmd);
  return { out, cache };
}

async function sha256OfBody(out: GetObjectCommandOutput): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of out.Body as Readable) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: h.digest('hex'), bytes };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inBatches<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(fn));
}

/** A deterministic stream of `total` bytes in 1 MiB chunks (never held whole in memory). */
function patternStream(total: number, seed: number): { stream: Readable; digest: () => string } {
  const h = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(MiB, total - sent);
      const chunk = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE(((sent + i) * 2654435761 + seed) >>> 0, i);
      sent += n;
      h.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => h.digest('hex') };
}

describe(title, () => {
  let s3rver: ChildS3rver | undefined;
  let upstream: S3Client | undefined;
  const gateways: RunningGateway[] = [];
  const dataDirs: string[] = [];
  let nginx: ChildProcess | undefined;
  let nginxExited: Promise<unknown> | undefined;
  let prefix = '';
  let logs: Rendered | undefined;
  let s3: S3Client;

  beforeAll(async () => {
    if (!nginxBin) throw new Error(why);
    s3rver = await startS3rver();
    upstream = upstreamClient(s3rver.port);
    await upstream.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (let i = 0; i < 3; i++) {
      const dataDir = await tempDir(`scale-gw${i + 1}`);
      dataDirs.push(dataDir);
      gateways.push(
        await startGateway(
          {
            host: '127.0.0.1',
            port: 0,
            dataDir,
            logLevel: 'silent',
            upstreamEndpoint: `http://127.0.0.1:${s3rver.port}`,
            upstreamAccessKeyId: S3RVER_KEY.accessKeyId,
            upstreamSecretAccessKey: S3RVER_KEY.secretAccessKey,
            upstreamForcePathStyle: true,
          },
          { shutdownGraceMs: 2000 },
        ),
      );
    }

    prefix = await mkdtemp(join(tmpdir(), 'blobcache-nginx-'));
    // nginx's workers run as an unprivileged user when the master is root; they must reach the
    // temp directories the master makes under the prefix.
    await chmod(prefix, 0o755);
    const template = await readFile(join(REPO_ROOT, 'infra/nginx/scale.conf'), 'utf8');
    const confPath = join(prefix, 'nginx.conf');
    // -e: the log nginx writes before it has read the config (default /var/log/nginx/error.log).
    const base = ['-c', confPath, '-p', `${prefix}/`, '-e', join(prefix, 'startup-error.log')];
    let listenPort = 0;
    // The free port is found before nginx binds it; another process may take it meanwhile.
    for (let attempt = 1; ; attempt++) {
      listenPort = await freePort();
      logs = renderScaleConf(
        template,
        prefix,
        gateways.map((g) => g.port),
        listenPort,
      );
      await writeFile(confPath, logs.text);
      await run(nginxBin, ['-t', '-q', ...base], { timeout: 30_000 }).catch(
        (err: Error & { stderr?: string }) => {
          throw new Error(`nginx -t rejected infra/nginx/scale.conf: ${err.stderr ?? err.message}`);
        },
      );
      const child = spawn(nginxBin, [...base, '-g', 'daemon off;'], { stdio: 'ignore' });
      nginx = child;
      nginxExited = new Promise((r) => child.once('exit', r));
      try {
        await waitForPort(listenPort, child, logs.errorLog);
        break;
      } catch (err) {
        if (attempt >= 3 || !/Address already in use/.test((err as Error).message)) throw err;
      }
    }

    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${listenPort}`,
      region: 'us-east-1',
      credentials: DEV_CREDENTIAL,
      forcePathStyle: true,
    });
  }, 420_000);

  afterAll(async () => {
    s3?.destroy();
    upstream?.destroy();
    if (nginx && nginx.exitCode === null) {
      // SIGTERM lets the master stop its workers; SIGKILL of the master alone would orphan them.
      nginx.kill('SIGTERM');
      const stopped = await Promise.race([
        nginxExited?.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 10_000)),
      ]);
      if (!stopped) nginx.kill('SIGKILL');
    }
    for (const g of gateways) await g.close();
    await s3rver?.kill();
    for (const d of [...dataDirs, prefix]) if (d) await rm(d, { recursive: true, force: true });
  }, 60_000);

  const seeded = Array.from({ length: KEYS_PER_KIND }, (_, i) => `seeded/obj-${i}.bin`);
  const written = Array.from({ length: KEYS_PER_KIND }, (_, i) => `written/obj-${i}.bin`);
  // Keys whose encoding the signature covers; nginx must pass them on byte for byte.
  const odd = ['odd/space and+plus=eq.txt', 'odd/ünïcödé/ключ.bin', 'odd/tilde~star*paren(1).txt'];
  const bodies = new Map<string, Buffer>();
  const bodyOf = (key: string): Buffer => {
    let b = bodies.get(key);
    if (!b) {
      b = randomBytes(1024 + ((bodies.size * 7919) % (256 * 1024)));
      bodies.set(key, b);
    }
    return b;
  };

  it('serves every key through nginx, each key from one gateway, keys spread over all three', async () => {
    // Half the keys exist only upstream (first read through nginx is a MISS, the second a HIT);
    // half are written through nginx (the gateway that took the PUT keeps a copy: first read HITs).
    await inBatches(seeded, 6, async (key) => {
      await upstream?.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bodyOf(key) }));
    });
    await inBatches([...written, ...odd], 6, async (key) => {
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: bodyOf(key),
          // Signed x-amz-meta-* header with an underscore: dropped by a default nginx.
          Metadata: { owner_team: 'storage' },
        }),
      );
    });

    const same = (key: string, got: Buffer): void => {
      expect(got.equals(bodyOf(key)), `bytes of ${key}`).toBe(true);
    };
    await inBatches(seeded, 6, async (key) => {
      const first = await getWithCache(s3, key);
      same(
        key,
        Buffer.from(
          await (first.out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      );
      expect(first.cache, `first read of ${key}`).toBe('MISS');
      const second = await getWithCache(s3, key);
      same(
        key,
        Buffer.from(
          await (second.out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      );
      expect(second.cache, `second read of ${key} (another gateway would MISS)`).toBe('HIT');
    });
    await inBatches([...written, ...odd], 6, async (key) => {
      const got = await getWithCache(s3, key);
      same(
        key,
        Buffer.from(
          await (got.out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        ),
      );
      expect(got.cache, `read of ${key} after its PUT (another gateway would MISS)`).toBe('HIT');
      expect(got.out.Metadata?.owner_team).toBe('storage');
    });

    // nginx's own account: one upstream per object path, all three used, and only ours.
    const lines = await accessLog(logs?.accessLog ?? '');
    const gatewayAddrs = new Set(gateways.map((g) => `127.0.0.1:${g.port}`));
    const byPath = new Map<string, Set<string>>();
    for (const l of lines) {
      expect(l.upstream.includes(','), `request retried on another gateway: ${JSON.stringify(l)}`).toBe(
        false,
      );
      expect(gatewayAddrs).toContain(l.upstream);
      const p = pathOf(l.uri);
      const set = byPath.get(p) ?? new Set<string>();
      set.add(l.upstream);
      byPath.set(p, set);
    }
    const objectPaths = [...byPath.keys()].filter((p) => p.startsWith(`/${BUCKET}/`));
    expect(objectPaths.length).toBe(seeded.length + written.length + odd.length);
    for (const p of objectPaths) expect([...(byPath.get(p) ?? [])], p).toHaveLength(1);
    const used = new Set(objectPaths.map((p) => [...(byPath.get(p) ?? [])][0]));
    expect(used.size).toBe(3);
    expect(lines.filter((l) => l.method === 'GET' && l.cache === 'HIT').length).toBe(
      seeded.length + written.length + odd.length,
    );
  }, 240_000);

  it('streams a multipart upload in and a large object out, all parts through one gateway', async () => {
    const key = 'big/multipart.bin';
    const total = 21 * MiB; // four 5 MiB parts and a 1 MiB tail
    const source = patternStream(total, 7);
    const upload = new Upload({
      client: s3,
      params: { Bucket: BUCKET, Key: key, Body: source.stream },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    await upload.done();
    const want = source.digest();

    for (const expected of ['MISS', 'HIT']) {
      const got = await getWithCache(s3, key);
      expect(got.cache).toBe(expected);
      expect(await sha256OfBody(got.out)).toEqual({ hash: want, bytes: total });
    }
    // The upstream holds the same bytes: the gateway passed the upload through, not a copy of it.
    const direct = await upstream?.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(direct && (await sha256OfBody(direct))).toEqual({ hash: want, bytes: total });

    const lines = (await accessLog(logs?.accessLog ?? '')).filter(
      (l) => pathOf(l.uri) === `/${BUCKET}/big/multipart.bin`,
    );
    const steps = lines.map(
      (l) =>
        `${l.method} ${l.uri.includes('uploads') ? 'create' : l.uri.includes('partNumber') ? 'part' : l.uri.includes('uploadId') ? 'complete' : 'object'}`,
    );
    expect(steps.filter((s) => s === 'POST create')).toHaveLength(1);
    expect(steps.filter((s) => s === 'PUT part')).toHaveLength(5);
    expect(steps.filter((s) => s === 'POST complete')).toHaveLength(1);
    expect(new Set(lines.map((l) => l.upstream)).size).toBe(1);
    expect(lines.every((l) => l.status < 300)).toBe(true);
    // nginx warns whenever it spools a request or response body to disk; streaming means never.
    const errors = await readFile(logs?.errorLog ?? '', 'utf8');
    expect(errors).not.toMatch(/buffered to a temporary file/);
  }, 240_000);
});
