// `GET /_blobcache/health`: 200 once the store is open and the server is accepting requests;
// 503 while starting or stopping, and while the engine is degraded (it then refuses writes).
// `_` cannot start a bucket name, so this path never shadows an S3 bucket.
export const HEALTH_PATH = '/_blobcache/health';

export type Readiness = { ready: boolean; reason?: string };

export function healthResponse(readiness: Readiness): Response {
  return new Response(
    JSON.stringify({ status: readiness.ready ? 'ok' : 'starting', reason: readiness.reason }),
    {
      status: readiness.ready ? 200 : 503,
      headers: { 'content-type': 'application/json' },
    },
  );
}
