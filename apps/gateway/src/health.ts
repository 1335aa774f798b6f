// `GET /_blobcache/health` (liveness): 200 once the store is open and the server is accepting
// requests; 503 while starting or stopping, and while the engine is degraded (it then refuses
// writes).
// `GET /_blobcache/ready` (readiness, for load balancers): 200 only when the gateway can serve
// everything: accepting, no engine degraded, and in upstream mode the upstream answered recently
// (see observability/upstream-liveness.ts); otherwise 503 with the reason as JSON.
// Both are unauthenticated. `_` cannot start a bucket name, so these paths never shadow an S3 bucket.
export const HEALTH_PATH = '/_blobcache/health';
export const READY_PATH = '/_blobcache/ready';

export type Readiness = { ready: boolean; reason?: string };

export function healthResponse(readiness: Readiness): Response {
  const body = JSON.stringify({ status: readiness.ready ? 'ok' : 'starting', reason: readiness.reason });
  return new Response(body, {
    status: readiness.ready ? 200 : 503,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
}

export function readyResponse(readiness: Readiness, method: string): Response {
  const body = JSON.stringify(
    readiness.ready ? { status: 'ready' } : { status: 'unavailable', reason: readiness.reason },
  );
  return new Response(method === 'HEAD' ? null : body, {
    status: readiness.ready ? 200 : 503,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
    },
  });
}
