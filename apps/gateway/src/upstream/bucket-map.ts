// Which local buckets are read-through caches of which upstream buckets.
// Invariant: a bucket is either mapped (every object operation goes through the upstream layer)
// or local (the durable store); the answer never changes while the process runs.
import { bucketNameProblem } from '@blobcache/s3-protocol';

export class BucketMapError extends Error {
  override name = 'BucketMapError';
}

export type BucketMap = {
  /** The upstream bucket for a local bucket, or undefined when the bucket is local-only. */
  upstreamFor(localBucket: string): string | undefined;
  /** True when every bucket is mapped under its own name (`*`). */
  readonly all: boolean;
};

/** Parses `*` or comma-separated `local=upstream` / `name` entries. */
export function parseBucketMap(text: string): BucketMap {
  const trimmed = text.trim();
  if (trimmed === '*') return { all: true, upstreamFor: (b) => b };
  const map = new Map<string, string>();
  for (const raw of trimmed.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const local = (eq >= 0 ? entry.slice(0, eq) : entry).trim();
    const upstream = (eq >= 0 ? entry.slice(eq + 1) : entry).trim();
    for (const name of [local, upstream]) {
      const problem = bucketNameProblem(name);
      if (problem !== undefined)
        throw new BucketMapError(`BLOBCACHE_UPSTREAM_BUCKETS: "${name}" is not a bucket name (${problem})`);
    }
    if (map.has(local)) throw new BucketMapError(`BLOBCACHE_UPSTREAM_BUCKETS: "${local}" is mapped twice`);
    map.set(local, upstream);
  }
  if (map.size === 0)
    throw new BucketMapError('BLOBCACHE_UPSTREAM_BUCKETS: no bucket listed (use * for all)');
  return { all: false, upstreamFor: (b) => map.get(b) };
}
