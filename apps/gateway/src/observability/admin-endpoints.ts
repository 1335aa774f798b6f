// The gateway's own endpoints under `/_blobcache/` other than health (which app.ts answers first):
//   GET|HEAD /_blobcache/metrics   Prometheus text (both modes). Loopback peers, or signed (SigV4).
//   GET|HEAD /_blobcache/ready     readiness, unauthenticated (see health.ts).
//   POST     /_blobcache/purge     upstream mode only (upstream/admin.ts), always signed.
// Invariant: the operation label is set before any check can throw, so refused admin requests are
// logged and counted under their own operation, never as S3 operations.
import type { IncomingMessage } from 'node:http';
import { READY_PATH, type Readiness, readyResponse } from '../health.ts';
import type { Authenticator } from '../s3/authenticate.ts';
import { PURGE_PATH } from '../upstream/admin.ts';
import type { UpstreamLayer } from '../upstream/upstream-layer.ts';
import { rawTarget, requireLocalOrSigned } from './admin-access.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { RequestState } from './request-state.ts';

export const METRICS_PATH = '/_blobcache/metrics';

/** Answers an admin request, or undefined when `req` is not for an admin endpoint. */
export type AdminHandler = (req: IncomingMessage, state: RequestState) => Promise<Response | undefined>;

export type AdminDeps = {
  metrics: GatewayMetrics;
  authenticator: Authenticator;
  ready: () => Promise<Readiness>;
  upstream?: UpstreamLayer | undefined;
};

export function adminEndpoints(deps: AdminDeps): AdminHandler {
  return async (req, state) => {
    const { rawPath } = rawTarget(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const readOnly = method === 'GET' || method === 'HEAD';
    if (rawPath === READY_PATH && readOnly) {
      state.operation = 'Ready';
      return readyResponse(await deps.ready(), method);
    }
    if (rawPath === METRICS_PATH && readOnly) {
      state.operation = 'Metrics';
      requireLocalOrSigned(deps.authenticator, req);
      const { contentType, body } = await deps.metrics.scrape();
      return new Response(method === 'HEAD' ? null : body, {
        status: 200,
        headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) },
      });
    }
    if (rawPath === PURGE_PATH && deps.upstream) {
      state.operation = 'CachePurge';
      return deps.upstream.admin(req, deps.authenticator);
    }
    return undefined;
  };
}
