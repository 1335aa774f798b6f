// The read-through cache's counters, rendered in the Prometheus text exposition format.
// Invariant: counters only ever increase (Prometheus `counter` semantics); gauges are read live.
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

export type Gauge = { name: string; help: string; value: number };

/** Prometheus text format (version 0.0.4). */
export function renderPrometheus(counters: CacheCounters, gauges: readonly Gauge[]): string {
  const lines: string[] = [];
  for (const [name, help] of Object.entries(COUNTER_HELP) as Array<[CounterName, string]>) {
    const metric = `blobcache_upstream_${snake(name)}_total`;
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`, `${metric} ${counters.values[name]}`);
  }
  for (const g of gauges) {
    lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`, `${g.name} ${g.value}`);
  }
  return `${lines.join('\n')}\n`;
}
