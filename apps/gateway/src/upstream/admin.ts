// The cache's admin surface under `/_blobcache/` (`_` cannot start a bucket name, so these paths
// never shadow S3 buckets):
//   GET  /_blobcache/metrics                    Prometheus text: counters + cache engine gauges.
//                                               Open to loopback clients; others must sign (SigV4).
//   POST /_blobcache/purge?bucket=B&key=K       drop one cached object
//   POST /_blobcache/purge?bucket=B&prefix=P    drop every cached object under a prefix
//                                               Always authenticated with the gateway's
//                                               credentials (SigV4 header or presigned URL).
// Invariant: purging only ever removes cached copies (upstream is never touched) and poisons
// in-flight fills of the purged keys, so a purge cannot be undone by a fill that started before it.
import type { IncomingMessage } from 'node:http';
import { parseQuery, S3Error } from '@blobcache/s3-protocol';
import { isLoopbackHost } from '../config.ts';
import { type Authenticator, authenticateRequest } from '../s3/authenticate.ts';
import { flattenHeaders } from '../s3/context.ts';
import { headKey } from '../store/layout.ts';
import { type Gauge, renderPrometheus } from './counters.ts';
import { cacheKey, type UpstreamCache } from './upstream-cache.ts';

export const METRICS_PATH = '/_blobcache/metrics';
export const PURGE_PATH = '/_blobcache/purge';

/** Keys purged per engine listing batch (memory bound of a prefix purge). */
const PURGE_BATCH = 512;

function authenticate(a: Authenticator, req: IncomingMessage, rawPath: string, rawQuery: string): void {
  authenticateRequest(
    a,
    (req.method ?? 'GET').toUpperCase(),
    { rawPath, rawQuery, query: parseQuery(rawQuery) },
    flattenHeaders(req),
  );
}

function isLoopbackPeer(req: IncomingMessage): boolean {
  const addr = req.socket.remoteAddress ?? '';
  return isLoopbackHost(addr.startsWith('::ffff:') ? addr.slice(7) : addr);
}

function json(status: number, body: unknown): Response {
  const text = JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  });
}

export function metricsGauges(up: UpstreamCache): Gauge[] {
  const s = up.store.engine.stats() as { liveBytes: number; items?: number; evictions?: number };
  return [
    { name: 'blobcache_cache_live_bytes', help: 'bytes held by the cache engine', value: s.liveBytes },
    { name: 'blobcache_cache_items', help: 'records in the cache engine', value: s.items ?? 0 },
    {
      name: 'blobcache_cache_evictions',
      help: 'records evicted by SIEVE since start',
      value: s.evictions ?? 0,
    },
  ];
}

/** Purges one key or a prefix of a local (mapped) bucket; returns how many cached objects went. */
export async function purgeCached(
  up: UpstreamCache,
  ub: string,
  what: { key?: string; prefix?: string },
): Promise<number> {
  if (what.key !== undefined) {
    const ck = cacheKey(ub, what.key);
    const write = up.fence.beginWrite(ck);
    up.forget(ck);
    try {
      return (await up.purge(ub, what.key)) ? 1 : 0;
    } finally {
      write.end();
    }
  }
  const prefix = what.prefix ?? '';
  up.forgetPrefix(cacheKey(ub, prefix));
  const headsUnder = headKey(ub, prefix);
  const strip = headKey(ub, '').length;
  let purged = 0;
  for (;;) {
    const keys: string[] = [];
    for await (const e of up.store.engine.keys({ prefix: headsUnder, limit: PURGE_BATCH })) {
      keys.push(e.key.subarray(strip).toString('utf8'));
    }
    if (keys.length === 0) return purged;
    for (const k of keys) if (await up.purge(ub, k)) purged++;
    if (keys.length < PURGE_BATCH) return purged;
  }
}

/**
 * Answers an admin request, or returns undefined when the path is not an admin path of the cache.
 * Throws S3Error for authentication failures and bad parameters.
 */
export async function adminResponse(
  up: UpstreamCache,
  authenticator: Authenticator,
  req: IncomingMessage,
): Promise<Response | undefined> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const rawQuery = q >= 0 ? rawUrl.slice(q + 1) : '';
  const method = (req.method ?? 'GET').toUpperCase();
  if (rawPath === METRICS_PATH && (method === 'GET' || method === 'HEAD')) {
    if (!isLoopbackPeer(req)) authenticate(authenticator, req, rawPath, rawQuery);
    const body = renderPrometheus(up.counters, metricsGauges(up));
    return new Response(method === 'HEAD' ? null : body, {
      status: 200,
      headers: {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
  }
  if (rawPath === PURGE_PATH) {
    if (method !== 'POST' && method !== 'DELETE') {
      throw new S3Error('MethodNotAllowed', undefined, { extra: { Method: method, ResourceType: 'PURGE' } });
    }
    authenticate(authenticator, req, rawPath, rawQuery);
    const query = parseQuery(rawQuery);
    const bucket = query.get('bucket');
    const key = query.get('key');
    const prefix = query.get('prefix');
    if (bucket === undefined || (key === undefined) === (prefix === undefined)) {
      throw new S3Error('InvalidArgument', 'purge needs bucket= and exactly one of key= or prefix=');
    }
    const ub = up.upstreamBucket(bucket);
    if (ub === undefined)
      throw new S3Error('InvalidArgument', `bucket ${bucket} is not cached from the upstream`);
    const purged = await purgeCached(up, ub, key !== undefined ? { key } : { prefix: prefix ?? '' });
    up.counters.inc('purged', purged);
    return json(200, { bucket, ...(key !== undefined ? { key } : { prefix }), purged });
  }
  return undefined;
}
