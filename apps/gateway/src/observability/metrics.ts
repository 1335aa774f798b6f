// The gateway's Prometheus metrics: one prom-client Registry per running gateway (never the global
// default registry: one process may run many gateways, as the tests do).
// Invariants:
// - Every metric name starts with `blobcache_`.
// - Label values come only from code (operation names from the route table, HTTP status codes,
//   engine roles), never from request input such as bucket or key: cardinality stays bounded, and
//   MAX_LABELLED_OPERATIONS caps it even if a caller passes something unexpected.
// - Recording a finished request is a few map look-ups and increments (it runs once per request on
//   the GET hot path); everything read from elsewhere (engine stats, cache counters) is read at
//   scrape time by collect() callbacks, never copied on the hot path.
import assert from 'node:assert';
import { Counter, collectDefaultMetrics, Histogram, type Metric, Registry } from 'prom-client';
import type { RequestState } from './request-state.ts';

export const METRIC_PREFIX = 'blobcache_';

/** Request latency buckets in seconds: 1 ms … 30 s (an S3 GET of a small object up to a large upload). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * Distinct operation label values kept; later unknown ones are counted as `other`. The route table
 * has a few dozen operations, so this only bites on a programming error.
 */
export const MAX_LABELLED_OPERATIONS = 128;

/** The operation label of a request that never reached a route (e.g. rejected while parsing). */
export const UNROUTED_OPERATION = 'Unrouted';

/** Collectors run at scrape time, before the registry renders (e.g. to snapshot engine stats once). */
export type ScrapeHook = () => void;

type Increment = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** The label children of one operation, created on its first request and reused after. */
type OperationSlot = {
  latency: Observe;
  bytesIn: Increment;
  bytesOut: Increment;
  aborted: Increment;
  /** Requests counter child by HTTP status code. */
  byStatus: Map<number, Increment>;
  operation: string;
};

export class GatewayMetrics {
  /**
   * This gateway's registry. Render it through scrape(): collectors registered with beforeScrape
   * (engine stats) take their snapshot there.
   */
  readonly registry: Registry;
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #latency: Histogram<'operation'>;
  readonly #bytesIn: Counter<'operation'>;
  readonly #bytesOut: Counter<'operation'>;
  readonly #aborted: Counter<'operation'>;
  readonly #slots = new Map<string, OperationSlot>();
  readonly #beforeScrape: ScrapeHook[] = [];

  constructor(opts: { processMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    this.#requests = new Counter({
      name: `${METRIC_PREFIX}requests_total`,
      help: 'S3 and admin requests finished, by operation and HTTP status',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: `${METRIC_PREFIX}request_duration_seconds`,
      help: 'time from the request line to the end of the response, by operation',
      labelNames: ['operation'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.#bytesIn = new Counter({
      name: `${METRIC_PREFIX}request_bytes_in_total`,
      help: 'payload bytes received in request bodies (after aws-chunked decoding), by operation',
      labelNames: ['operation'],
      registers,
    });
    this.#bytesOut = new Counter({
      name: `${METRIC_PREFIX}request_bytes_out_total`,
      help: 'body bytes sent in responses, by operation',
      labelNames: ['operation'],
      registers,
    });
    this.#aborted = new Counter({
      name: `${METRIC_PREFIX}requests_aborted_total`,
      help: 'requests whose connection closed before the response was completely written',
      labelNames: ['operation'],
      registers,
    });
    if (opts.processMetrics ?? true) {
      // getMetricsAsArray() is typed as plain objects but holds the metric instances themselves.
      for (const m of processRegistry().getMetricsAsArray())
        this.registry.registerMetric(m as unknown as Metric);
    }
  }

  /** Runs `hook` at the start of every scrape (before any metric is collected). */
  beforeScrape(hook: ScrapeHook): void {
    this.#beforeScrape.push(hook);
  }

  /**
   * Records one finished request (called once per request, on the hot path). `aborted`: the
   * connection closed before the whole response was written.
   */
  record(state: RequestState, status: number, durationSeconds: number, aborted: boolean): void {
    const slot = this.#slot(state.operation ?? UNROUTED_OPERATION);
    let requests = slot.byStatus.get(status);
    if (requests === undefined) {
      requests = this.#requests.labels(slot.operation, String(status));
      slot.byStatus.set(status, requests);
    }
    requests.inc();
    slot.latency.observe(durationSeconds);
    if (state.bytesIn > 0) slot.bytesIn.inc(state.bytesIn);
    if (state.bytesOut > 0) slot.bytesOut.inc(state.bytesOut);
    if (aborted) slot.aborted.inc();
  }

  /** The text exposition and its content type (`text/plain; version=0.0.4`). */
  async scrape(): Promise<{ contentType: string; body: string }> {
    for (const hook of this.#beforeScrape) hook();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #slot(operation: string): OperationSlot {
    const known = this.#slots.get(operation);
    if (known !== undefined) return known;
    if (this.#slots.size >= MAX_LABELLED_OPERATIONS) {
      const other = this.#slots.get('other');
      if (other !== undefined) return other;
      operation = 'other';
    }
    const slot: OperationSlot = {
      operation,
      latency: this.#latency.labels(operation),
      bytesIn: this.#bytesIn.labels(operation),
      bytesOut: this.#bytesOut.labels(operation),
      aborted: this.#aborted.labels(operation),
      byStatus: new Map(),
    };
    this.#slots.set(operation, slot);
    assert(this.#slots.size <= MAX_LABELLED_OPERATIONS + 1, 'operation label set exceeds its bound');
    return slot;
  }
}

let processMetrics: Registry | undefined;

/**
 * Node process metrics (CPU, memory, event-loop lag, GC, handles), prefixed `blobcache_`. They
 * describe the process, not one gateway, so their collectors (a GC observer and an event-loop
 * delay monitor, which are never torn down) are created once per process, in a private registry,
 * and the metric objects are registered into each gateway's registry as well.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: METRIC_PREFIX });
  }
  return processMetrics;
}

/**
 * One prom-client Counter per name in `help`, set from `values` at scrape time: `values` stays the
 * only place they are counted (the read-through cache's counters, the lifecycle sweeper's totals).
 */
export function registerCountersOf<K extends string>(
  registry: Registry,
  help: Readonly<Record<K, string>>,
  values: Readonly<Record<K, number>>,
  metricName: (name: K) => string,
): void {
  for (const name of Object.keys(help) as K[]) {
    new Counter({
      name: metricName(name),
      help: help[name],
      registers: [registry],
      collect() {
        this.reset();
        this.inc(values[name]);
      },
    });
  }
}
