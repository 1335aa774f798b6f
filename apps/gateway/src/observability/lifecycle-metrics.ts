// The lifecycle sweeper's totals as counters (store/lifecycle-sweep.ts), read at scrape time.
import type { Registry } from 'prom-client';
import type { LifecycleTotals } from '../store/lifecycle-sweep.ts';
import { METRIC_PREFIX, registerCountersOf } from './metrics.ts';

const HELP: Readonly<Record<keyof LifecycleTotals, string>> = {
  sweeps: 'Lifecycle sweeps completed.',
  failures: 'Lifecycle sweeps that failed (logged; the next one retries).',
  expired: 'Objects deleted because a lifecycle Expiration rule fell due.',
  aborted: 'Multipart uploads aborted by an AbortIncompleteMultipartUpload rule.',
  transitioned: 'Objects moved to another storage class by a lifecycle Transition rule.',
};

export function registerLifecycleMetrics(registry: Registry, totals: LifecycleTotals): void {
  registerCountersOf(registry, HELP, totals, (name) => `${METRIC_PREFIX}lifecycle_${name}_total`);
}
