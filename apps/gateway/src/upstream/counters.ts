// The read-through cache's counters, exposed as Prometheus counters at scrape time.
// Invariant: counters only ever increase (Prometheus `counter` semantics).
import type { Registry } from 'prom-client';
import { registerCountersOf } from '../observability/metrics.ts';

export const COUNTER_HELP = {
  hits: 'GET/HEAD answered from a fresh cached copy without asking upstream',
  misses: 'GET/HEAD that needed the object from upstream (no usable cached copy)',
  coalesced: 'GET/HEAD that joined an upstream request already in flight for the same key',
  revalidations: 'conditional upstream requests (If-None-Match) for a cached copy past its TTL',
  notModified: 'revalidations answered 304 (cached bytes kept)',
  negativeHits: 'GET/HEAD answered 404 from the negative cache',
  staleServed: 'cached copies served because upstream failed',
  fills: 'objects written into the cache from an upstream response',
  fillsAborted: 'fills that did not commit (upstream or client failure, or a racing write)',
  passthrough: 'ranged, part-scoped or oversized reads relayed without caching',
  upstreamRequests: 'requests sent to the upstream',
  upstreamBytes: 'body bytes received from the upstream',
  upstreamErrors: 'upstream requests that failed (network, timeout, 5xx)',
  writeThrough: 'writes (PUT, DELETE, multipart, copy) accepted by the upstream',
  writeCached: 'write-through PUTs whose bytes were left in the cache (the next read hits)',
  purged: 'cached objects removed by the admin purge endpoint',
} as const;

export type CounterName = keyof typeof COUNTER_HELP;

export class CacheCounters {
  readonly values: Record<CounterName, number>;

  constructor() {
    const v = {} as Record<CounterName, number>;
    for (const k of Object.keys(COUNTER_HELP) as CounterName[]) v[k] = 0;
    this.values = v;
  }

  inc(name: CounterName, by = 1): void {
    this.values[name] += by;
  }

  snapshot(): Record<CounterName, number> {
    return { ...this.values };
  }
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The Prometheus name of a cache counter: `hits` → `blobcache_upstream_hits_total`. */
export function cacheCounterMetricName(name: CounterName): string {
  return `blobcache_upstream_${snake(name)}_total`;
}

/**
 * Exposes the counters through `registry` (one prom-client Counter each, read at scrape time):
 * CacheCounters stays the only place they are counted.
 */
export function registerCacheCounters(registry: Registry, counters: CacheCounters): void {
  registerCountersOf(registry, COUNTER_HELP, counters.values, cacheCounterMetricName);
}
