// The Hono app: health and the other `/_blobcache/` endpoints, then every other request is an S3
// operation routed from the RAW request line (see s3/request-target.ts for why never `c.req.path`).
// Order for an S3 request: parse target → authenticate (headers/query only; unsigned requests
// are anonymous) → match route → authorize (the bucket policy: s3/authorize.ts) → handler. Every
// failure is rendered as S3 XML by `errorResponse`.
// The S3 core is `createS3Handler`, a plain function: server.ts calls it directly for every path
// outside `/_blobcache/` (no Hono dispatch, no Request/Response conversion by the adapter) and
// sends its Response with s3/write-response.ts. Measured reason: Hono + @hono/node-server alone
// answered a preallocated 4 KiB buffer at 0.42x of bare node:http on the bench machine, so a
// gateway behind them could not reach the 0.7x GET target whatever its own cost.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AuthContext, toS3Error } from '@blobcache/s3-protocol';
import type { HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { GatewayConfig } from './config.ts';
import { HEALTH_PATH, healthResponse, type Readiness } from './health.ts';
import type { AdminHandler } from './observability/admin-endpoints.ts';
import type { Logger } from './observability/logger.ts';
import { requestState } from './observability/request-state.ts';
import { type Authenticator, authenticateRequest } from './s3/authenticate.ts';
import { authorize } from './s3/authorize.ts';
import { flattenHeaders, type S3Context } from './s3/context.ts';
import { operationAsked, S3_ROUTES } from './s3/operations.ts';
import { isPostObjectForm } from './s3/post-object.ts';
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
  /** Carries out bucket lifecycle rules; nudged when a rule is put. */
  lifecycle?: { nudge(): void } | undefined;
};

/** Until its form's policy is verified, a POST Object request is nobody's (post-object.ts). */
const POST_FORM_AUTH: AuthContext = Object.freeze({
  method: 'anonymous',
  accessKeyId: '',
  payloadMode: 'UNSIGNED-PAYLOAD',
});

/** Serves one S3 request (the Hono app and the node:http fast path both call it). */
export type S3Handler = (req: IncomingMessage, res: ServerResponse) => Promise<Response>;

/**
 * The S3 core as a plain function: parse target → authenticate → match route → authorize →
 * handler, every failure rendered as S3 XML. Needs the request state attached by server.ts.
 */
export function createS3Handler(deps: AppDeps): S3Handler {
  return async (req, res) => {
    const state = requestState(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    let target: RequestTarget | undefined;
    let headers: Record<string, string | undefined> | undefined;
    try {
      const flat = flattenHeaders(req);
      headers = flat;
      target = parseRequestTarget(rawUrl, flat.host, deps.config.domain);
      if (target.bucket !== undefined) state.bucket = target.bucket;
      if (target.key !== undefined) state.key = target.key;
      // A POST Object form carries its own signed policy: the handler verifies it from the body.
      const auth = isPostObjectForm(method, target, headers)
        ? POST_FORM_AUTH
        : authenticateRequest(deps.authenticator, method, target, headers, true);
      const ctx: S3Context & { bucket: string | undefined; key: string | undefined } = {
        req,
        res,
        state,
        method,
        target,
        headers,
        auth,
        config: deps.config,
        lookupSecret: deps.authenticator.lookupSecret,
        store: deps.store,
        logger: deps.logger,
        lifecycle: deps.lifecycle,
        bucket: target.bucket,
        key: target.key,
      };
      const route = matchRoute(S3_ROUTES, ctx, levelOf(target.bucket, target.key));
      state.operation = route.operation;
      // The form's own policy decides for a POST Object (post-object.ts); a bucket policy decides
      // what an unsigned request may do and what a signed one may not (s3/authorize.ts).
      if (auth !== POST_FORM_AUTH) {
        const mapped = deps.upstream?.maps(target.bucket) === true;
        const perObject = authorize(deps.store, ctx, route.operation, mapped);
        if (perObject) ctx.authorizeObject = perObject;
      }
      // Mapped buckets are read-through caches: their operations go through the upstream layer.
      const handle = deps.upstream?.handlerFor(route.operation, target.bucket) ?? route.handle;
      return await handle(ctx as Parameters<typeof handle>[0]);
    } catch (err) {
      // Refused before routing (a bad signature, say): still name the operation it asked for, so
      // logs and metrics say which call failed instead of one catch-all label.
      if (state.operation === undefined && target !== undefined && headers !== undefined)
        state.operation = operationAsked(method, target, headers);
      const s3err = toGatewayError(err, deps.config);
      if (s3err.code === 'InternalError')
        deps.logger.error({ err, requestId: state.requestId }, 'internal error');
      return errorResponse(s3err, state, method, target?.rawPath ?? rawUrl.split('?', 1)[0]);
    }
  };
}

export function createApp(
  deps: AppDeps,
  s3: S3Handler = createS3Handler(deps),
): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.all('*', async (c) => {
    const req = c.env.incoming;
    const state = requestState(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const pathOnly = rawUrl.split('?', 1)[0];
    if (pathOnly === HEALTH_PATH && (method === 'GET' || method === 'HEAD')) {
      state.operation = 'Health';
      return healthResponse(deps.readiness());
    }
    if (deps.admin && pathOnly?.startsWith('/_blobcache/')) {
      try {
        const admin = await deps.admin(req, state);
        if (admin) return admin;
      } catch (err) {
        const s3err = toGatewayError(err, deps.config);
        if (s3err.code === 'InternalError')
          deps.logger.error({ err, requestId: state.requestId }, 'internal error');
        return errorResponse(s3err, state, method, pathOnly);
      }
    }
    return s3(req, c.env.outgoing);
  });

  app.onError((err, c) => {
    const state = requestState(c.env.incoming);
    deps.logger.error({ err, requestId: state.requestId }, 'unhandled error');
    return errorResponse(toS3Error(err), state, c.env.incoming.method ?? 'GET');
  });

  return app;
}
