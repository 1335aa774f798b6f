// The cache's admin surface under `/_blobcache/` (`_` cannot start a bucket name, so these paths
// never shadow S3 buckets; metrics and readiness of both modes are in observability/):
//   POST /_blobcache/purge?bucket=B&key=K       drop one cached object
//   POST /_blobcache/purge?bucket=B&prefix=P    drop every cached object under a prefix
//                                               Always authenticated with the gateway's
//                                               credentials (SigV4 header or presigned URL).
// Invariant: purging only ever removes cached copies (upstream is never touched) and poisons
// in-flight fills of the purged keys, so a purge cannot be undone by a fill that started before it.
import type { IncomingMessage } from 'node:http';
import { parseQuery, S3Error } from '@blobcache/s3-protocol';
import { authenticateAdmin, rawTarget } from '../observability/admin-access.ts';
import type { Authenticator } from '../s3/authenticate.ts';
import { headKey } from '../store/layout.ts';
import { cacheKey, type UpstreamCache } from './upstream-cache.ts';

export const PURGE_PATH = '/_blobcache/purge';

/** Keys purged per engine listing batch (memory bound of a prefix purge). */
const PURGE_BATCH = 512;

function json(status: number, body: unknown): Response {
  const text = JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  });
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
  const { rawPath, rawQuery } = rawTarget(req);
  const method = (req.method ?? 'GET').toUpperCase();
  if (rawPath === PURGE_PATH) {
    if (method !== 'POST' && method !== 'DELETE') {
      throw new S3Error('MethodNotAllowed', undefined, { extra: { Method: method, ResourceType: 'PURGE' } });
    }
    authenticateAdmin(authenticator, req);
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
