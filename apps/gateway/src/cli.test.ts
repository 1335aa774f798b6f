// The CLI process: its "listening" line appears at every log level (parents find a `--port 0`
// gateway's port there), buffered request log lines are all written out on a clean stop, and
// SIGTERM/SIGINT stop it gracefully (in-flight requests finish, bounded; exit 0; data intact).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from './store/open-store.ts';
import { s3Client } from './testing/harness.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

type Running = {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
};

function spawnCli(dataDir: string, level: string, extra: string[] = []): Promise<Running> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', level, ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not print its listening line')), 20_000);
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const rec = JSON.parse(part) as Record<string, unknown>;
        lines.push(rec);
        if (rec.msg === 'blobcache listening' && typeof rec.url === 'string') {
          clearTimeout(timer);
          resolve({ child, port: Number(new URL(rec.url).port), lines, exited });
        }
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited early (${code})`)));
  });
}

function health(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/_blobcache/health' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('cli', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('prints its listening line at every level, as one JSON line on stdout', async () => {
    for (const level of ['warn', 'silent']) {
      const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-cli-'));
      dirs.push(dataDir);
      const gw = await spawnCli(dataDir, level);
      children.push(gw.child);
      expect(gw.port).toBeGreaterThan(0);
      expect(await health(gw.port)).toBe(200);
      gw.child.kill('SIGTERM');
      expect(await gw.exited).toBe(0);
      expect(gw.lines.map((l) => l.msg)).toEqual(['blobcache listening']);
    }
  }, 60_000);

  it('writes every buffered request line before a clean stop', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'blobcache-cli-'));
    dirs.push(dataDir);
    const gw = await spawnCli(dataDir, 'info');
    children.push(gw.child);
    // A few short lines stay below the batch size, so they are still buffered at SIGTERM unless
    // the periodic flush got to them; either way none may be missing after the exit.
    for (let i = 0; i < 3; i++) expect(await health(gw.port)).toBe(200);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    const msgs = gw.lines.map((l) => l.msg);
    expect(msgs.filter((m) => m === 'request')).toHaveLength(3);
    expect(msgs.at(-1)).toBe('blobcache stopped');
  }, 60_000);
});

/** Resolves once a log line with this message has been printed (lines are batched: it may lag). */
function lineSeen(gw: Running, msg: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${msg}" line`)), 20_000);
    const poll = (): void => {
      const line = gw.lines.find((l) => l.msg === msg);
      if (line) {
        clearTimeout(timer);
        resolve(line);
      } else setTimeout(poll, 20);
    };
    poll();
  });
}

/** A new connection's fate: refused, or the status of a health check. */
function connect(port: number): Promise<string> {
  return health(port).then(
    (status) => `status ${status}`,
    (err: NodeJS.ErrnoException) => err.code ?? String(err),
  );
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function body(bytes: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

type Upload = {
  req: ClientRequest;
  /** Resolves once the server said 100 Continue: its handler is running (the request is in flight). */
  continued: Promise<void>;
  response: Promise<{ status: number; body: string }>;
};

/** A presigned PUT of `size` bytes whose body is sent by the caller (req.write/req.end). */
async function startUpload(port: number, bucket: string, key: string, size: number): Promise<Upload> {
  const s3 = s3Client({ port });
  const url = new URL(
    await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 }),
  );
  s3.destroy();
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'PUT',
    path: url.pathname + url.search,
    headers: { expect: '100-continue', 'content-length': size },
  });
  const continued = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { req, continued, response };
}

async function getObject(port: number, bucket: string, key: string): Promise<Buffer | number> {
  const s3 = s3Client({ port });
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
  } finally {
    s3.destroy();
  }
}

async function createBucket(port: number, bucket: string): Promise<void> {
  const s3 = s3Client({ port });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
}

describe('graceful shutdown (real child process)', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const start = async (dataDir: string, extra: string[] = []): Promise<Running> => {
    const gw = await spawnCli(dataDir, 'info', extra);
    children.push(gw.child);
    return gw;
  };
  const newDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'blobcache-stop-'));
    dirs.push(d);
    return d;
  };

  it('SIGTERM: a PUT whose body is still being sent completes, new connections are refused, exit 0, the object is intact after restart', async () => {
    const dataDir = await newDir();
    const gw = await start(dataDir, ['--shutdown-grace-ms', '60000']);
    await createBucket(gw.port, 'bkt');
    const data = body(6 * 1024 * 1024, 1);
    const up = await startUpload(gw.port, 'bkt', 'slow', data.length);
    await up.continued;
    up.req.write(data.subarray(0, 1024 * 1024));

    gw.child.kill('SIGTERM');
    expect(await lineSeen(gw, 'stopped accepting connections; draining in-flight requests')).toMatchObject({
      inFlight: 1,
    });
    expect(await connect(gw.port)).toBe('ECONNREFUSED');
    up.req.end(data.subarray(1024 * 1024));
    expect((await up.response).status).toBe(200);
    expect(await gw.exited).toBe(0);
    const msgs = gw.lines.map((l) => l.msg);
    expect(msgs).not.toContain('cutting in-flight requests');
    expect(msgs.at(-1)).toBe('blobcache stopped');

    const again = await start(dataDir);
    const got = await getObject(again.port, 'bkt', 'slow');
    expect(Buffer.isBuffer(got) && sha(got)).toBe(sha(data));
    // a clean stop leaves nothing to replay
    expect(again.lines.map((l) => l.msg)).not.toContain('recovered write intents');
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 90_000);

  it('SIGINT: a GET read slowly by its client is served to the end, then exit 0', async () => {
    const dataDir = await newDir();
    const gw = await start(dataDir, ['--shutdown-grace-ms', '60000']);
    await createBucket(gw.port, 'bkt');
    // larger than the loopback socket buffers, so the response is still being written at SIGINT
    const data = body(24 * 1024 * 1024, 2);
    const s3 = s3Client({ port: gw.port });
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'big', Body: data }));
    const url = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bkt', Key: 'big' }), { expiresIn: 300 }),
    );
    s3.destroy();

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port: gw.port, path: url.pathname + url.search }, resolve)
        .on('error', reject)
        .end();
    });
    expect(res.statusCode).toBe(200);
    const parts: Buffer[] = [];
    const first = await new Promise<Buffer>((resolve) => res.once('data', resolve));
    parts.push(first);
    res.pause();

    gw.child.kill('SIGINT');
    expect(await lineSeen(gw, 'stopped accepting connections; draining in-flight requests')).toMatchObject({
      inFlight: 1,
    });
    expect(await connect(gw.port)).toBe('ECONNREFUSED');
    const rest = new Promise<void>((resolve, reject) => {
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', resolve);
      res.on('error', reject);
    });
    res.resume();
    await rest;
    expect(sha(Buffer.concat(parts))).toBe(sha(data));
    expect(await gw.exited).toBe(0);
    expect(gw.lines.find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGINT' });
    expect(gw.lines.at(-1)?.msg).toBe('blobcache stopped');
  }, 90_000);

  it('the grace period bounds the wait: a PUT that never finishes is cut, exit 0, nothing of it stored', async () => {
    const dataDir = await newDir();
    const gw = await start(dataDir, ['--shutdown-grace-ms', '300']);
    await createBucket(gw.port, 'bkt');
    const up = await startUpload(gw.port, 'bkt', 'never', 4 * 1024 * 1024);
    await up.continued;
    up.req.write(body(256 * 1024, 3));
    const outcome = up.response.then(
      (r) => `status ${r.status}`,
      (err: NodeJS.ErrnoException) => err.code ?? 'error',
    );
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(await outcome).toMatch(/^ECONNRESET$|^EPIPE$/);
    expect(gw.lines.find((l) => l.msg === 'cutting in-flight requests')).toMatchObject({
      inFlight: 1,
      reason: 'shutdown grace period over',
    });
    expect(gw.lines.at(-1)?.msg).toBe('blobcache stopped');

    const again = await start(dataDir);
    expect(await getObject(again.port, 'bkt', 'never')).toBe(404);
    const s3 = s3Client({ port: again.port });
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'after', Body: Buffer.from('fine') }));
    s3.destroy();
    expect(String(await getObject(again.port, 'bkt', 'after'))).toBe('fine');
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 90_000);

  it('a second signal cuts in-flight requests at once and still stops cleanly (exit 0, store intact)', async () => {
    const dataDir = await newDir();
    const gw = await start(dataDir, ['--shutdown-grace-ms', '600000']);
    await createBucket(gw.port, 'bkt');
    const s3 = s3Client({ port: gw.port });
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'kept', Body: Buffer.from('kept') }));
    s3.destroy();
    const up = await startUpload(gw.port, 'bkt', 'cut', 4 * 1024 * 1024);
    await up.continued;
    up.req.write(body(256 * 1024, 4));
    const outcome = up.response.then(
      (r) => `status ${r.status}`,
      (err: NodeJS.ErrnoException) => err.code ?? 'error',
    );
    gw.child.kill('SIGTERM');
    await lineSeen(gw, 'stopped accepting connections; draining in-flight requests');
    gw.child.kill('SIGINT');
    // with a 10-minute grace, only the second signal can end this within the test's timeout
    expect(await gw.exited).toBe(0);
    expect(await outcome).toMatch(/^ECONNRESET$|^EPIPE$/);
    expect(
      gw.lines.find((l) => l.msg === 'signal during shutdown: cutting in-flight requests now'),
    ).toMatchObject({ signal: 'SIGINT' });
    expect(gw.lines.find((l) => l.msg === 'cutting in-flight requests')).toMatchObject({
      reason: 'asked to stop now',
    });
    expect(gw.lines.at(-1)?.msg).toBe('blobcache stopped');

    const again = await start(dataDir);
    expect(String(await getObject(again.port, 'bkt', 'kept'))).toBe('kept');
    expect(await getObject(again.port, 'bkt', 'cut')).toBe(404);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 90_000);
});

describe('a signal while starting (child process)', () => {
  let dataDir: string | undefined;
  afterEach(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  // A container runs node as PID 1, and the kernel ignores a signal PID 1 has no handler for: the
  // CLI must handle SIGTERM from its first log line on, or `docker stop` waits out its timeout.
  it('SIGTERM during a long recovery ends the process at once with 143; the next start completes it', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'blobcache-early-'));
    // A store whose key index must be rebuilt from 60,000 records: a start that takes a while.
    const store = await openStore({ dataDir, maxBytes: 0, logger: pino({ level: 'silent' }) });
    const value = Buffer.alloc(64, 7);
    for (let i = 0; i < 60_000; i += 2000) {
      const puts: Array<Promise<unknown>> = [];
      for (let j = i; j < i + 2000; j++) puts.push(store.engine.put(`z/${j}`, value));
      await Promise.all(puts);
    }
    await store.close();
    await rm(join(dataDir, 'engine', 'keyindex'), { recursive: true, force: true });

    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'debug'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const msgs: string[] = [];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const msg = String((JSON.parse(part) as { msg?: unknown }).msg);
        msgs.push(msg);
        if (msg === 'blobcache starting') child.kill('SIGTERM');
      }
    });
    expect(await exited).toEqual({ code: 143, signal: null });
    expect(msgs).toContain('signal while starting: exiting before serving');
    expect(msgs).not.toContain('blobcache listening');

    const gw = await spawnCli(dataDir, 'warn');
    expect(await health(gw.port)).toBe(200);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  }, 120_000);
});
