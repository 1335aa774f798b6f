// Wiring: config → logger → store (engine + crash recovery) → metrics → app → listening server.
// Invariant: `close()` stops accepting, lets in-flight requests finish (bounded), then closes the
// store so every acknowledged write is durable and the engine files are released.
import type { Server } from 'node:http';
import { S3Error } from '@blobcache/s3-protocol';
import { createApp, createS3Handler } from './app.ts';
import { effectiveCredentials, type GatewayConfig, type GatewayConfigInput, parseConfig } from './config.ts';
import { CorsPolicy, corsHandlers } from './cors.ts';
import type { Readiness } from './health.ts';
import { adminEndpoints } from './observability/admin-endpoints.ts';
import {
  type EngineRole,
  type EngineStatsSource,
  registerEngineMetrics,
} from './observability/engine-metrics.ts';
import { registerLifecycleMetrics } from './observability/lifecycle-metrics.ts';
import { announce, createLogger, type Logger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { gatewayReadiness } from './observability/readiness.ts';
import { registerUpstreamCallMetrics } from './observability/upstream-liveness.ts';
import { createAuthenticator } from './s3/authenticate.ts';
import { bucketCorsRules } from './s3/bucket-cors.ts';
import { preflight } from './s3/preflight.ts';
import { errorParts } from './s3/responses.ts';
import { createGatewayServer, listen } from './server.ts';
import { trackInFlight } from './shutdown.ts';
import { LifecycleSweeper } from './store/lifecycle-sweep.ts';
import { openStore } from './store/open-store.ts';
import { registerCacheCounters } from './upstream/counters.ts';
import { openUpstreamLayer } from './upstream/upstream-layer.ts';

export type RunningGateway = {
  /** `http://<host>:<port>` */
  url: string;
  port: number;
  host: string;
  config: GatewayConfig;
  /** This gateway's metrics (its own prom-client Registry, served at `/_blobcache/metrics`). */
  metrics: GatewayMetrics;
  /** What `/_blobcache/ready` answers right now (in upstream mode it may probe the upstream). */
  readiness(): Promise<Readiness>;
  /**
   * Graceful stop (shutdown.ts): in-flight requests get `graceMs` (default: the config's
   * shutdownGraceMs) to finish. Called again while closing with `graceMs: 0`, it cuts them now.
   */
  close(how?: { graceMs?: number }): Promise<void>;
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
  const lifecycle = new LifecycleSweeper(
    store,
    logger.child({ component: 'lifecycle' }),
    config.lifecycleIntervalMs,
  );
  const authenticator = createAuthenticator(credentials, config.region);
  const engines: Array<{ role: EngineRole; engine: EngineStatsSource }> = [
    { role: 'store', engine: store.engine },
  ];
  const metrics = new GatewayMetrics();
  if (upstream) {
    engines.push({ role: 'cache', engine: upstream.cache.store.engine });
    registerCacheCounters(metrics.registry, upstream.cache.counters);
    registerUpstreamCallMetrics(metrics.registry, upstream.liveness);
  }
  registerEngineMetrics(metrics, engines);
  registerLifecycleMetrics(metrics.registry, lifecycle.totals);
  const readiness = (): Promise<Readiness> =>
    gatewayReadiness({ accepting: () => ready, engines, upstream: upstream?.liveness });
  const appDeps = {
    config,
    store,
    logger,
    authenticator,
    upstream,
    lifecycle,
    readiness: () => {
      if (!ready) return { ready: false, reason: 'not accepting requests' };
      // A degraded engine still serves reads but refuses every write: not healthy.
      const stats = store.engine.stats();
      return stats.degraded
        ? { ready: false, reason: `engine degraded: ${stats.degradedReason ?? 'I/O failure'}` }
        : { ready: true };
    },
    admin: adminEndpoints({ metrics, authenticator, ready: readiness, upstream }),
  };
  const s3 = createS3Handler(appDeps);
  const app = createApp(appDeps, s3);
  const server: Server = createGatewayServer({
    logger,
    metrics,
    fetch: (request, env) => app.fetch(request, env),
    s3,
    preflight: (req, state) => preflight(appDeps, req, state),
    internalError: (state) => errorParts(new S3Error('InternalError'), state, 'GET', undefined),
    cors: corsHandlers(new CorsPolicy(config.corsOrigins), bucketCorsRules(store, config.domain)),
  });
  const inFlight = trackInFlight(server, logger);
  let address: Awaited<ReturnType<typeof listen>>;
  try {
    address = await listen(server, config.host, config.port);
  } catch (err) {
    await store.close();
    await upstream?.close();
    throw err;
  }
  ready = true;
  lifecycle.start();
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
    metrics,
    readiness,
    close: (how = {}) => {
      closing ??= (async () => {
        ready = false;
        const graceMs = how.graceMs ?? opts.shutdownGraceMs ?? config.shutdownGraceMs;
        await inFlight.drain(graceMs).done;
        await lifecycle.stop();
        await store.close();
        await upstream?.close();
        logger.info('blobcache stopped');
      })();
      // Asked again with no grace (a second signal): cut what is still in flight now.
      if (how.graceMs === 0) inFlight.drain(0).cutNow();
      return closing;
    },
  };
}
