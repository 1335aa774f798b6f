// The Hono app: health, then every other request is an S3 operation routed from the RAW request
// line (see s3/request-target.ts for why never `c.req.path`).
// Order for an S3 request: parse target → authenticate (headers/query only) → match route →
// handler. Every failure is rendered as S3 XML by `errorResponse`.

import { toS3Error } from '@blobcache/s3-protocol';
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { GatewayConfig } from './config.ts';
import { HEALTH_PATH, healthResponse, type Readiness } from './health.ts';
import type { AdminHandler } from './observability/admin-endpoints.ts';
import type { Logger } from './observability/logger.ts';
import { requestState } from './observability/request-state.ts';
import { type Authenticator, authenticateRequest } from './s3/authenticate.ts';
import { flattenHeaders, type S3Context } from './s3/context.ts';
import { S3_ROUTES } from './s3/operations.ts';
import { parseRequestTarget, type RequestTarget } from './s3/request-target.ts';
import { errorResponse, toGatewayError } from './s3/responses.ts';
import { levelOf, matchRoute } from './s3/route.ts';
import type { ObjectStore } from './store/object-store.ts';
import type { UpstreamLayer } from './upstream/upstream-layer.ts';

export type AppDeps = {
  config: GatewayConfig;
  store: ObjectStore;
  logger: Logger;
  authenticator: Authenticator;
  readiness: () => Readiness;
  /** The read-through cache, when an upstream is configured (mapped buckets go through it). */
  upstream?: UpstreamLayer | undefined;
  /** `/_blobcache/` endpoints other than health: metrics, ready, purge (observability/admin-endpoints.ts). */
  admin?: AdminHandler | undefined;
};

export function createApp(deps: AppDeps): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.all('*', async (c) => {
    const req = c.env.incoming;
    const res = c.env.outgoing;
    const state = requestState(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const pathOnly = rawUrl.split('?', 1)[0];
    if (pathOnly === HEALTH_PATH && (method === 'GET' || method === 'HEAD')) {
      state.operation = 'Health';
      return healthResponse(deps.readiness());
    }
    let target: RequestTarget | undefined;
    try {
      if (deps.admin && pathOnly?.startsWith('/_blobcache/')) {
        const admin = await deps.admin(req, state);
        if (admin) return admin;
      }
      const headers = flattenHeaders(req);
      target = parseRequestTarget(rawUrl, headers.host, deps.config.domain);
      if (target.bucket !== undefined) state.bucket = target.bucket;
      if (target.key !== undefined) state.key = target.key;
      const auth = authenticateRequest(deps.authenticator, method, target, headers);
      const ctx: S3Context = {
        req,
        res,
        state,
        method,
        target,
        headers,
        auth,
        config: deps.config,
        store: deps.store,
        logger: deps.logger,
      };
      const route = matchRoute(S3_ROUTES, ctx, levelOf(target.bucket, target.key));
      state.operation = route.operation;
      // Mapped buckets are read-through caches: their operations go through the upstream layer.
      const handle = deps.upstream?.handlerFor(route.operation, target.bucket) ?? route.handle;
      return await handle({ ...ctx, bucket: target.bucket, key: target.key } as Parameters<typeof handle>[0]);
    } catch (err) {
      const s3err = toGatewayError(err, deps.config);
      if (s3err.code === 'InternalError')
        deps.logger.error({ err, requestId: state.requestId }, 'internal error');
      return errorResponse(s3err, state, method, target?.rawPath ?? pathOnly);
    }
  });

  app.onError((err, c) => {
    const state = requestState(c.env.incoming);
    deps.logger.error({ err, requestId: state.requestId }, 'unhandled error');
    return errorResponse(toS3Error(err), state, c.env.incoming.method ?? 'GET');
  });

  return app;
}
