/**
 * An in-process S3 for test suites (vitest, jest, node:test): a real gateway on 127.0.0.1, an
 * ephemeral port and a throwaway data dir, started in tens of milliseconds and silent unless asked.
 *
 * @example
 * ```ts
 * import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
 * import { startTestServer, type TestServer } from '@blobcache/gateway';
 * import { afterAll, beforeAll, it } from 'vitest';
 *
 * let s3server: TestServer;
 * let s3: S3Client;
 * beforeAll(async () => {
 *   s3server = await startTestServer();
 *   s3 = new S3Client(s3server.s3ClientConfig);
 * });
 * afterAll(async () => {
 *   s3.destroy();
 *   await s3server.stop(); // closes the gateway and removes its temp data dir
 * });
 *
 * it('stores objects', async () => {
 *   await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
 * });
 * ```
 *
 * Invariants: the server binds loopback only; `stop()` removes a data dir only if this module
 * created it (a caller's `dataDir` is never deleted), and does its work once however often it is
 * called. Wiring is `startGateway`'s: this file only chooses test-friendly settings around it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  ConfigError,
  type Credential,
  configSchema,
  DEV_CREDENTIAL,
  type GatewayConfig,
  type GatewayConfigInput,
} from './config.ts';
import { type RunningGateway, startGateway } from './gateway.ts';
import { createLogger, type Logger } from './observability/logger.ts';

export type TestLogLevel = GatewayConfig['logLevel'];

/** The settings this module owns; `config` may not set them (they are always applied last). */
type OwnedKey = 'host' | 'port' | 'dataDir' | 'credentials' | 'region' | 'maxBytes' | 'logLevel';

export type TestServerOptions = {
  /** Engine files go here and are kept on `stop()`. Default: a fresh `blobcache-test-*` temp dir, removed on `stop()`. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default 0: a free port chosen by the OS. */
  port?: number;
  /** The one key pair the server accepts. Default: the development pair (`blobcache` / `blobcache-secret`). */
  credentials?: Credential;
  /** Region the server signs for. Default `us-east-1`. */
  region?: string;
  /** Disk budget (bytes or e.g. `'64MiB'`; 0 = unbounded, else at least 64 MiB). Default 0. */
  maxBytes?: number | string;
  /** Default `'silent'`: nothing is printed, not even the "listening" line. Raised levels go to stdout. */
  logLevel?: TestLogLevel;
  /** Log through this pino logger instead (`logLevel` is then ignored). */
  logger?: Logger;
  /** How long `stop()` lets in-flight requests finish before cutting them. Default 2000. */
  shutdownGraceMs?: number;
  /** Any other gateway setting, e.g. read-through mode (`upstreamEndpoint`, ...). */
  config?: Omit<Partial<GatewayConfigInput>, OwnedKey>;
};

/** Structurally an `S3ClientConfig`: pass it to `new S3Client(...)` as is or spread it. */
export type TestS3ClientConfig = {
  endpoint: string;
  region: string;
  credentials: Credential;
  forcePathStyle: true;
};

export type TestServer = {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  region: string;
  credentials: Credential;
  s3ClientConfig: TestS3ClientConfig;
  /** Where the engine files are (the temp dir, or the `dataDir` passed in). */
  dataDir: string;
  /** The underlying gateway (its parsed `config`, its own `close()` that leaves the data dir). */
  gateway: RunningGateway;
  /** Closes the gateway, then removes the data dir if this server created it. Safe to call twice. */
  stop(): Promise<void>;
};

/** A pino destination that drops every line: `announce()` logs "listening" even at level silent. */
const discard = { write(_line: string): void {} };

function testLogger(level: TestLogLevel): Logger {
  const known: readonly string[] = configSchema.shape.logLevel.unwrap().options;
  if (!known.includes(level)) {
    throw new ConfigError(`startTestServer: unknown logLevel "${level}" (one of ${known.join(', ')})`);
  }
  if (level === 'silent') return pino({ level }, discard);
  // Synchronous writes through process.stdout (which test runners capture per test) rather than
  // the CLI's batched fd-1 destination, whose buffer would need flushing at every stop.
  return createLogger(level, process.stdout);
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const logger = opts.logger ?? testLogger(opts.logLevel ?? 'silent');
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'blobcache-test-')));
  const input: GatewayConfigInput = {
    ...opts.config,
    host: '127.0.0.1',
    port: opts.port ?? 0,
    dataDir,
    logLevel: opts.logLevel ?? 'silent',
  };
  if (opts.credentials) input.credentials = [opts.credentials];
  if (opts.region !== undefined) input.region = opts.region;
  if (opts.maxBytes !== undefined) input.maxBytes = opts.maxBytes;

  let gateway: RunningGateway;
  try {
    gateway = await startGateway(input, { logger, shutdownGraceMs: opts.shutdownGraceMs ?? 2000 });
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const credentials: Credential = { ...(opts.credentials ?? DEV_CREDENTIAL) };
  const endpoint = `http://127.0.0.1:${gateway.port}`;
  const region = gateway.config.region;
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port: gateway.port,
    region,
    credentials,
    s3ClientConfig: { endpoint, region, credentials: { ...credentials }, forcePathStyle: true },
    dataDir,
    gateway,
    stop: () => {
      stopping ??= (async () => {
        try {
          await gateway.close();
        } finally {
          // Hazard: removing the dir before close() resolves would pull files from under a live engine.
          if (ownDir) await rm(dataDir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
}
