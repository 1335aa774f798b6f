// Wiring: config → logger → store (engine + crash recovery) → app → listening server.
// Invariant: `close()` stops accepting, lets in-flight requests finish (bounded), then closes the
// store so every acknowledged write is durable and the engine files are released.
import type { Server } from 'node:http';
import { S3Error } from '@blobcache/s3-protocol';
import { createApp, createS3Handler } from './app.ts';
import { effectiveCredentials, type GatewayConfig, type GatewayConfigInput, parseConfig } from './config.ts';
import { announce, createLogger, type Logger } from './observability/logger.ts';
import { createAuthenticator } from './s3/authenticate.ts';
import { preflight } from './s3/preflight.ts';
import { errorParts } from './s3/responses.ts';
import { createGatewayServer, listen, stopServer } from './server.ts';
import { openStore } from './store/open-store.ts';
import { openUpstreamLayer } from './upstream/upstream-layer.ts';

export type RunningGateway = {
  /** `http://<host>:<port>` */
  url: string;
  port: number;
  host: string;
  config: GatewayConfig;
  close(): Promise<void>;
};

export type StartOptions = { logger?: Logger; shutdownGraceMs?: number };

export async function startGateway(
  input: GatewayConfigInput,
  opts: StartOptions = {},
): Promise<RunningGateway> {
  const config = parseConfig(input);
  const credentials = effectiveCredentials(config);
  const logger = opts.logger ?? createLogger(config.logLevel);
  const store = await openStore({ dataDir: config.dataDir, maxBytes: config.maxBytes, logger });
  let upstream: Awaited<ReturnType<typeof openUpstreamLayer>>;
  try {
    upstream = await openUpstreamLayer({ config, logger });
  } catch (err) {
    await store.close();
    throw err;
  }
  let ready = false;
  const authenticator = createAuthenticator(credentials, config.region);
  const appDeps = {
    config,
    store,
    logger,
    authenticator,
    upstream,
    readiness: () => {
      if (!ready) return { ready: false, reason: 'not accepting requests' };
      // A degraded engine still serves reads but refuses every write: not healthy.
      const stats = store.engine.stats();
      return stats.degraded
        ? { ready: false, reason: `engine degraded: ${stats.degradedReason ?? 'I/O failure'}` }
        : { ready: true };
    },
  };
  const s3 = createS3Handler(appDeps);
  const app = createApp(appDeps, s3);
  const server: Server = createGatewayServer({
    logger,
    fetch: (request, env) => app.fetch(request, env),
    s3,
    preflight: (req, state) => preflight(appDeps, req, state),
    internalError: (state) => errorParts(new S3Error('InternalError'), state, 'GET', undefined),
  });
  let address: Awaited<ReturnType<typeof listen>>;
  try {
    address = await listen(server, config.host, config.port);
  } catch (err) {
    await store.close();
    await upstream?.close();
    throw err;
  }
  ready = true;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  // Printed at every level: a `--port 0` gateway reports its port only here.
  announce(
    logger,
    { url, dataDir: config.dataDir, region: config.region, domain: config.domain },
    'blobcache listening',
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    host: address.address,
    config,
    close: () => {
      closing ??= (async () => {
        ready = false;
        await stopServer(server, opts.shutdownGraceMs ?? 10_000);
        await store.close();
        await upstream?.close();
        logger.info('blobcache stopped');
      })();
      return closing;
    },
  };
}
