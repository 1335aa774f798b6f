// The lifecycle sweeper's totals as counters (store/lifecycle-sweep.ts), read at scrape time.
import { Counter, type Registry } from 'prom-client';
import type { LifecycleTotals } from '../store/lifecycle-sweep.ts';
import { METRIC_PREFIX } from './metrics.ts';

const HELP: Readonly<Record<keyof LifecycleTotals, string>> = {
  sweeps: 'Lifecycle sweeps completed.',
  failures: 'Lifecycle sweeps that failed (logged; the next one retries).',
  expired: 'Objects deleted because a lifecycle Expiration rule fell due.',
  aborted: 'Multipart uploads aborted by an AbortIncompleteMultipartUpload rule.',
  transitioned: 'Objects moved to another storage class by a lifecycle Transition rule.',
};

export function registerLifecycleMetrics(registry: Registry, totals: LifecycleTotals): void {
  for (const [name, help] of Object.entries(HELP) as Array<[keyof LifecycleTotals, string]>) {
    new Counter({
      name: `${METRIC_PREFIX}lifecycle_${name}_total`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(totals[name]);
      },
    });
  }
}
