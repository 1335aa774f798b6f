// What `/_blobcache/ready` answers: whether this gateway can serve every request right now.
// Invariant: ready only when the server accepts requests, no engine the gateway runs is degraded
// (a degraded engine refuses writes), and in upstream mode the upstream answers; the first failed
// condition is the reason given.
import type { Readiness } from '../health.ts';
import type { EngineRole, EngineStatsSource } from './engine-metrics.ts';

export type ReadinessSources = {
  accepting: () => boolean;
  engines: ReadonlyArray<{ role: EngineRole; engine: EngineStatsSource }>;
  /** Upstream mode: whether the upstream answered recently (may probe it). */
  upstream?: { readiness(): Promise<Readiness> } | undefined;
};

/** The conditions that need no I/O: accepting, and no engine degraded. */
export function localReadiness(s: Omit<ReadinessSources, 'upstream'>): Readiness {
  if (!s.accepting()) return { ready: false, reason: 'not accepting requests' };
  for (const { role, engine } of s.engines) {
    const stats = engine.stats();
    if (stats.degraded) {
      return { ready: false, reason: `${role} engine degraded: ${stats.degradedReason ?? 'I/O failure'}` };
    }
  }
  return { ready: true };
}

export async function gatewayReadiness(s: ReadinessSources): Promise<Readiness> {
  const local = localReadiness(s);
  if (!local.ready || s.upstream === undefined) return local;
  const upstream = await s.upstream.readiness();
  // The gateway may have begun closing while the probe ran.
  return upstream.ready ? localReadiness(s) : upstream;
}
