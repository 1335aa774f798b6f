import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DEV_CREDENTIAL } from './config.ts';
import { startTestServer, type TestServer } from './test-server.ts';
import { s3ErrorOf } from './testing/harness.ts';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function bodyText(s3: S3Client, Bucket: string, Key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return (await got.Body?.transformToString()) ?? '';
}

describe('startTestServer', () => {
  // os.tmpdir() reads TMPDIR at each call: pointing it at a private dir shows exactly which temp
  // dirs a server created and whether stop() removed them, whatever other suites do meanwhile.
  let scratch: string;
  let savedTmp: string | undefined;
  const started: TestServer[] = [];
  const clients: S3Client[] = [];
  const client = (server: TestServer): S3Client => {
    const c = new S3Client(server.s3ClientConfig);
    clients.push(c);
    return c;
  };
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'blobcache-test-server-'));
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
  });
  afterEach(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    for (const c of clients.splice(0)) c.destroy();
    for (const s of started.splice(0)) await s.stop();
    await rm(scratch, { recursive: true, force: true });
  });
  const start = async (...args: Parameters<typeof startTestServer>): Promise<TestServer> => {
    const server = await startTestServer(...args);
    started.push(server);
    return server;
  };

  it('serves a real SDK round trip on 127.0.0.1 and removes its temp data dir on stop', async () => {
    const server = await start();
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(server.credentials).toEqual(DEV_CREDENTIAL);
    expect(server.s3ClientConfig).toEqual({
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: DEV_CREDENTIAL,
      forcePathStyle: true,
    });
    expect(server.dataDir.startsWith(join(scratch, 'blobcache-test-'))).toBe(true);
    expect(await exists(join(server.dataDir, 'engine'))).toBe(true);

    const s3 = client(server);
    await s3.send(new CreateBucketCommand({ Bucket: 'round-trip' }));
    await s3.send(new PutObjectCommand({ Bucket: 'round-trip', Key: 'a/1.txt', Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: 'round-trip', Key: 'a/2.txt', Body: 'two' }));
    expect(await bodyText(s3, 'round-trip', 'a/2.txt')).toBe('two');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'round-trip', Prefix: 'a/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['a/1.txt', 'a/2.txt']);

    await server.stop();
    expect(await exists(server.dataDir)).toBe(false);
    expect(await readdir(scratch)).toEqual([]);
    await expect(fetch(`${server.endpoint}/_blobcache/health`)).rejects.toThrow();
  });

  it('keeps a given dataDir, and a second server on it sees the first one’s data', async () => {
    const dataDir = join(scratch, 'kept');
    const first = await start({ dataDir });
    expect(first.dataDir).toBe(dataDir);
    const s3a = client(first);
    await s3a.send(new CreateBucketCommand({ Bucket: 'kept' }));
    await s3a.send(new PutObjectCommand({ Bucket: 'kept', Key: 'k', Body: 'survives' }));
    await first.stop();
    expect(await exists(join(dataDir, 'engine'))).toBe(true);

    const second = await start({ dataDir });
    expect(await bodyText(client(second), 'kept', 'k')).toBe('survives');
    await second.stop();
    expect(await exists(join(dataDir, 'engine'))).toBe(true);
  });

  it('runs two servers at once on different ports with separate data', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).not.toBe(b.port);
    expect(a.dataDir).not.toBe(b.dataDir);
    await client(a).send(new CreateBucketCommand({ Bucket: 'only-in-a' }));
    await client(b).send(new CreateBucketCommand({ Bucket: 'only-in-b' }));
    const namesA = (await client(a).send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name);
    const namesB = (await client(b).send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name);
    expect(namesA).toEqual(['only-in-a']);
    expect(namesB).toEqual(['only-in-b']);
    await a.stop();
    // b is untouched by a's stop.
    expect((await fetch(`${b.endpoint}/_blobcache/health`)).status).toBe(200);
  });

  it('stop() is idempotent, sequential or concurrent', async () => {
    const server = await start();
    const p1 = server.stop();
    const p2 = server.stop();
    expect(p2).toBe(p1);
    await Promise.all([p1, p2]);
    await server.stop();
    expect(await exists(server.dataDir)).toBe(false);
  });

  it('accepts the given credentials and region only', async () => {
    const credentials = { accessKeyId: 'AKIATEST', secretAccessKey: 'se/cr+et=:x' };
    const server = await start({ credentials, region: 'eu-west-1' });
    expect(server.credentials).toEqual(credentials);
    expect(server.s3ClientConfig.region).toBe('eu-west-1');
    await client(server).send(new CreateBucketCommand({ Bucket: 'creds' }));
    const dev = new S3Client({ ...server.s3ClientConfig, credentials: DEV_CREDENTIAL });
    clients.push(dev);
    const err = await s3ErrorOf(dev.send(new ListBucketsCommand({})));
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('passes other gateway settings through `config`, and maxBytes through its own option', async () => {
    const server = await start({ maxBytes: '64MiB', config: { domain: 'test.internal' } });
    expect(server.gateway.config.maxBytes).toBe(64 * 2 ** 20);
    expect(server.gateway.config.domain).toBe('test.internal');
    expect(server.gateway.config.host).toBe('127.0.0.1');
  });

  it('logs through a given logger; an unknown level is a ConfigError', async () => {
    const lines: string[] = [];
    const server = await start({ logger: pino({ level: 'info' }, { write: (l: string) => lines.push(l) }) });
    await server.stop();
    const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toContain('blobcache listening');
    expect(msgs).toContain('blobcache stopped');
    await expect(startTestServer({ logLevel: 'loud' as 'info' })).rejects.toThrow(ConfigError);
  });

  it('removes its temp dir when the gateway fails to start', async () => {
    const first = await start();
    expect(await readdir(scratch)).toHaveLength(1);
    await expect(startTestServer({ port: first.port })).rejects.toThrow(/EADDRINUSE/);
    await expect(startTestServer({ maxBytes: '1KiB' })).rejects.toThrow(ConfigError);
    expect(await readdir(scratch)).toEqual([first.dataDir.slice(scratch.length + 1)]);
  });

  it('prints nothing at the default level (a child process whose stdout and stderr stay empty)', async () => {
    const script = [
      `const { startTestServer } = await import(${JSON.stringify(new URL('./test-server.ts', import.meta.url).pathname)});`,
      'const server = await startTestServer();',
      'const res = await fetch(server.endpoint + "/_blobcache/health");',
      'if (res.status !== 200) throw new Error("health " + res.status);',
      'await server.stop();',
    ].join('\n');
    const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '--no-warnings', '-e', script],
        { env: { ...process.env, TMPDIR: scratch }, timeout: 30_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
      );
    });
    expect(out).toEqual({ stdout: '', stderr: '' });
    expect(await readdir(scratch)).toEqual([]);
  });
});
