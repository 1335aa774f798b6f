// Where a request points (service, bucket or object), read from the RAW request line and Host.
// Invariant: the path is taken exactly as sent: no dot-segment collapsing, no `//` merging, each
// part percent-decoded exactly once, `+` kept literal in the path. `c.req.path` must never be used
// for S3 routing (Hono/URL normalise `a/../b` and would change the key and the signature).
import { parseQueryParams, parseS3Path, type QueryParam, queryMapOf, S3Error } from '@blobcache/s3-protocol';

export type RequestTarget = {
  /** Path as sent, before `?`, still percent-encoded. */
  rawPath: string;
  /** Query as sent, without `?` ('' when none). */
  rawQuery: string;
  /** Decoded query parameters (first value by name; `+` is a space; `?uploads` → ''). */
  query: Map<string, string>;
  /** The same query split in order (authentication reads it instead of parsing the query again). */
  queryParams?: readonly QueryParam[];
  bucket?: string;
  key?: string;
  /** Set when the bucket came from the Host header (virtual-hosted style). */
  virtualHostBucket?: string;
};

// `.<domain>` lower-cased, for the one configured domain (not rebuilt per request).
let lastSuffix = { domain: '', suffix: '.' };
function domainSuffix(domain: string): string {
  if (lastSuffix.domain !== domain) lastSuffix = { domain, suffix: `.${domain.toLowerCase()}` };
  return lastSuffix.suffix;
}

/** The bucket named by a Host header `<bucket>.<domain>[:port]`, if any. */
export function bucketFromHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) return undefined; // IPv6 literal: always path-style
  const colon = name.lastIndexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  const suffix = domainSuffix(domain);
  if (name.length > suffix.length && name.endsWith(suffix)) return name.slice(0, -suffix.length);
  return undefined;
}

export function parseRequestTarget(rawUrl: string, host: string | undefined, domain: string): RequestTarget {
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const rawQuery = q >= 0 ? rawUrl.slice(q + 1) : '';
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidRequest', 'The request path must start with "/"');
  const virtualHostBucket = bucketFromHost(host, domain);
  const { bucket, key } = parseS3Path(rawPath, virtualHostBucket);
  const queryParams = parseQueryParams(rawQuery);
  const target: RequestTarget = { rawPath, rawQuery, query: queryMapOf(queryParams), queryParams };
  if (bucket !== undefined) target.bucket = bucket;
  if (key !== undefined) target.key = key;
  if (virtualHostBucket !== undefined) target.virtualHostBucket = virtualHostBucket;
  return target;
}
