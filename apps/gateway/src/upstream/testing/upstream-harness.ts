// Test support for upstream (read-through) tests: s3rver in a child process, a counting loopback
// proxy in front of it (how many requests of which kind reached "the upstream"), an upstream
// client to seed objects, and a caching gateway pointed at the proxy. Used only by *.test.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { GatewayConfigInput } from '../../config.ts';
import { s3Client, startTestGateway, type TestGateway } from '../../testing/harness.ts';

export const S3RVER_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export type ChildS3rver = { port: number; dir: string; kill(): Promise<void> };

/** Starts s3rver on 127.0.0.1 with an ephemeral port in a child process. */
export async function startS3rver(): Promise<ChildS3rver> {
  const dir = await mkdtemp(join(tmpdir(), 'blobcache-s3rver-'));
  const child: ChildProcess = fork(new URL('./s3rver-child.ts', import.meta.url).pathname, [dir], {
    execArgv: ['--openssl-legacy-provider'],
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 20s')), 20_000);
    child.on('message', (m: { port?: number; error?: string }) => {
      if (m.port !== undefined) {
        clearTimeout(timer);
        resolve(m.port);
      } else if (m.error !== undefined) {
        clearTimeout(timer);
        reject(new Error(m.error));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code}`));
    });
  });
  let killed = false;
  return {
    port,
    dir,
    kill: async () => {
      if (killed) return;
      killed = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type SeenRequest = { method: string; path: string; query: string; headers: Record<string, unknown> };

/** A loopback HTTP proxy that records every request it forwards; `down()` makes it refuse. */
export type CountingProxy = {
  port: number;
  seen: SeenRequest[];
  /** Requests with this method whose path (without query) is exactly `path`. */
  count(method: string, path: string): number;
  /**
   * Forwards matching requests at once but holds their responses until `release()`: the upstream
   * answered (with what it had then), the gateway has not heard yet. Makes races deterministic.
   */
  hold(match?: (r: SeenRequest) => boolean): void;
  release(): void;
  /** Pauses every response body after this many bytes until `resumeBodies()`. */
  pauseBodiesAfter(bytes: number): void;
  resumeBodies(): void;
  /** Response bodies currently paused by pauseBodiesAfter. */
  pausedBodies(): number;
  /** Closes the listening socket: new connections are refused (upstream unreachable). */
  down(): Promise<void>;
  /** Answers every request with this status instead of forwarding (e.g. 500), or forwards (undefined). */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
};

export async function startCountingProxy(
  targetPort: number,
  targetHost = '127.0.0.1',
): Promise<CountingProxy> {
  const seen: SeenRequest[] = [];
  let holdMatch: ((r: SeenRequest) => boolean) | undefined;
  let held: Array<() => void> = [];
  let pauseAfter: number | undefined;
  let paused: Array<() => void> = [];
  let failStatus: number | undefined;
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const record: SeenRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(q >= 0 ? url.slice(0, q) : url),
      query: q >= 0 ? url.slice(q + 1) : '',
      headers: { ...req.headers },
    };
    seen.push(record);
    const holdThis = holdMatch?.(record) === true;
    {
      if (failStatus !== undefined) {
        req.resume();
        res.writeHead(failStatus, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
        return;
      }
      const up = httpRequest(
        { host: targetHost, port: targetPort, method: req.method, path: url, headers: req.headers },
        (upRes) => {
          const deliver = (): void => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            const limit = pauseAfter;
            if (limit === undefined) {
              upRes.pipe(res);
              return;
            }
            let sent = 0;
            let pausedOnce = false;
            upRes.on('data', (d: Buffer) => {
              res.write(d);
              sent += d.length;
              // Only while pausing is still wanted: resumeBodies() may already have run.
              if (sent >= limit && !pausedOnce && pauseAfter !== undefined) {
                pausedOnce = true;
                upRes.pause();
                paused.push(() => upRes.resume());
              }
            });
            upRes.on('end', () => res.end());
          };
          if (holdThis) held.push(deliver);
          else deliver();
        },
      );
      up.on('error', () => {
        res.destroy();
      });
      req.pipe(up);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const closeServer = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return {
    port,
    seen,
    count: (method, path) => seen.filter((s) => s.method === method && s.path === path).length,
    hold: (match) => {
      holdMatch = match ?? (() => true);
    },
    release: () => {
      const waiting = held;
      held = [];
      holdMatch = undefined;
      for (const f of waiting) f();
    },
    pauseBodiesAfter: (bytes) => {
      pauseAfter = bytes;
    },
    pausedBodies: () => paused.length,
    resumeBodies: () => {
      pauseAfter = undefined;
      const waiting = paused;
      paused = [];
      for (const f of waiting) f();
    },
    down: closeServer,
    failWith: (status) => {
      failStatus = status;
    },
    close: async () => {
      if (server.listening) await closeServer();
    },
  };
}

/** A client talking to s3rver directly (bypassing the proxy): seeds and inspects the upstream. */
export function upstreamClient(port: number): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: S3RVER_KEY,
    forcePathStyle: true,
    // s3rver would store aws-chunked framing of trailing-checksum uploads as object bytes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A gateway in upstream mode whose upstream is `proxyPort`. */
export function startCachingGateway(
  proxyPort: number,
  config: Partial<GatewayConfigInput> = {},
): Promise<TestGateway> {
  return startTestGateway({
    upstreamEndpoint: `http://127.0.0.1:${proxyPort}`,
    upstreamAccessKeyId: S3RVER_KEY.accessKeyId,
    upstreamSecretAccessKey: S3RVER_KEY.secretAccessKey,
    upstreamForcePathStyle: true,
    upstreamTimeoutMs: 5000,
    upstreamConnectTimeoutMs: 1000,
    upstreamMaxAttempts: 1,
    ...config,
  });
}

/** Everything an end-to-end upstream suite runs against, started together and stopped together. */
export type UpstreamRig = {
  s3rver: ChildS3rver;
  proxy: CountingProxy;
  /** Talks to s3rver directly: seeds and inspects the upstream. */
  upstream: S3Client;
  gw: TestGateway;
  /** Talks to the gateway with its credentials. */
  client: S3Client;
  stop(): Promise<void>;
};

/** s3rver with `bucket` created, the counting proxy in front of it, and a caching gateway on the proxy. */
export async function startUpstreamRig(
  bucket: string,
  config: Partial<GatewayConfigInput> = {},
): Promise<UpstreamRig> {
  const s3rver = await startS3rver();
  const proxy = await startCountingProxy(s3rver.port);
  const upstream = upstreamClient(s3rver.port);
  await upstream.send(new CreateBucketCommand({ Bucket: bucket }));
  const gw = await startCachingGateway(proxy.port, config);
  const client = s3Client(gw);
  return {
    s3rver,
    proxy,
    upstream,
    gw,
    client,
    async stop() {
      client.destroy();
      upstream.destroy();
      await gw.stop();
      await proxy.close();
      await s3rver.kill();
    },
  };
}
