// End-to-end support: a gateway as a child process running the CLI (in-process gateways come from
// the public `startTestServer` of @blobcache/gateway), SDK clients, and an aws-cli runner whose
// configuration comes only from environment variables and temp files (the user's ~/.aws is never
// read).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { DEV_CREDENTIAL } from '@blobcache/gateway';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `blobcache-e2e-${prefix}-`));
}

/** The JS SDK on default settings (flexible checksums, aws-chunked stream bodies); path-style. */
export function sdkClient(port: number): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: DEV_CREDENTIAL.accessKeyId, secretAccessKey: DEV_CREDENTIAL.secretAccessKey },
    forcePathStyle: true,
  });
}

export type AwsCli = {
  /** Runs `aws --endpoint-url <gw> <args>`; rejects on a non-zero exit with stderr in the message. */
  run(args: string[], opts?: { env?: Record<string, string>; cwd?: string }): Promise<string>;
  /** Writes the temp AWS config file (e.g. to switch presigning to s3v4). */
  configure(text: string): Promise<void>;
  endpoint: string;
  home: string;
  dispose(): Promise<void>;
};

export async function awsCli(port: number): Promise<AwsCli> {
  const home = await tempDir('aws');
  const configFile = join(home, 'config');
  const credentialsFile = join(home, 'credentials');
  await writeFile(configFile, '');
  await writeFile(credentialsFile, '');
  const endpoint = `http://127.0.0.1:${port}`;
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: DEV_CREDENTIAL.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DEV_CREDENTIAL.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  return {
    endpoint,
    home,
    configure: (text) => writeFile(configFile, text),
    run: (args, opts = {}) =>
      new Promise((resolve, reject) => {
        execFile(
          'aws',
          ['--endpoint-url', endpoint, ...args],
          { env: { ...baseEnv, ...(opts.env ?? {}) }, cwd: opts.cwd ?? home, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`aws ${args.join(' ')} failed: ${err.message}\n${stderr}`));
            else resolve(stdout);
          },
        );
      }),
    dispose: () => rm(home, { recursive: true, force: true }),
  };
}

export type ChildGateway = {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful) and wait for the exit. */
  stop(): Promise<void>;
};

/** Runs `node apps/gateway/src/cli.ts serve --port 0 --data-dir <dir>`; the port comes from its log. */
export function startChildGateway(dataDir: string): Promise<ChildGateway> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['apps/gateway/src/cli.ts', 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, BLOBCACHE_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let buffered = '';
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      if (settled) return;
      buffered += d.toString();
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl < 0) break;
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let entry: { msg?: string; url?: string };
        try {
          entry = JSON.parse(line) as { msg?: string; url?: string };
        } catch {
          continue;
        }
        if (entry.msg === 'blobcache listening' && entry.url) {
          settled = true;
          const url = entry.url;
          resolve({
            url,
            port: Number(new URL(url).port),
            child,
            kill: async () => {
              child.kill('SIGKILL');
              await exited;
            },
            stop: async () => {
              child.kill('SIGTERM');
              await exited;
            },
          });
        }
      }
    });
    child.once('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`gateway child exited (${code}) before listening: ${stderr}`));
      }
    });
  });
}

export async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The multipart ETag S3 gives a file uploaded in parts of `partBytes`. */
export async function multipartEtagOfFile(path: string, partBytes: number): Promise<string> {
  const whole = createHash('md5');
  let part = createHash('md5');
  let inPart = 0;
  let parts = 0;
  for await (const raw of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    let chunk = raw as Buffer;
    while (chunk.length > 0) {
      const n = Math.min(partBytes - inPart, chunk.length);
      part.update(chunk.subarray(0, n));
      inPart += n;
      chunk = chunk.subarray(n);
      if (inPart === partBytes) {
        whole.update(part.digest());
        parts++;
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0) {
    whole.update(part.digest());
    parts++;
  }
  return `"${whole.digest('hex')}-${parts}"`;
}

/** Deterministic pseudo-random bytes. */
export function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}
