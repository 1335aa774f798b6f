// Blob engine stats as Prometheus metrics, one series per engine the gateway runs, told apart by
// the `engine` label (`store`: durable client objects; `cache`: the read-through cache).
// Invariant: each engine's stats() is read once per scrape (a snapshot taken before the registry
// renders), so every series of one scrape describes the same moment and the hot path pays nothing.
// Hazard: stats() of a closed engine is not meaningful; a gateway only scrapes while it serves.
import type { EngineStats } from '@blobcache/engine';
import { Counter, Gauge } from 'prom-client';
import { type GatewayMetrics, METRIC_PREFIX } from './metrics.ts';

export type EngineRole = 'store' | 'cache';

/** What the gateway's engine port exposes; the real engine returns the full EngineStats. */
export type EngineStatsSource = {
  stats(): Partial<EngineStats> & Pick<EngineStats, 'liveBytes' | 'degraded'>;
};

type NumericStat = {
  [K in keyof EngineStats]: EngineStats[K] extends number ? K : never;
}[keyof EngineStats];

/** Values that go up and down. */
const GAUGES: ReadonlyArray<[NumericStat, string, string]> = [
  ['items', 'engine_items', 'live records in the engine'],
  ['liveBytes', 'engine_live_bytes', 'bytes of live records (keys and values)'],
  ['diskBytes', 'engine_disk_bytes', 'bytes on disk: segments plus write-ahead logs'],
  ['segments', 'engine_segments', 'segment files on disk'],
  ['memtables', 'engine_memtables', 'memtables not yet flushed (active and sealed)'],
  ['unflushedBytes', 'engine_unflushed_bytes', 'bytes held in memtables not yet flushed'],
  ['indexMemoryBytes', 'engine_index_memory_bytes', 'memory used by the in-memory hash index'],
];

/** Monotone engine counters (since the engine opened). */
const COUNTERS: ReadonlyArray<[NumericStat, string, string]> = [
  ['evictions', 'engine_evictions_total', 'records evicted by SIEVE'],
  ['compactions', 'engine_compactions_total', 'segment compactions run'],
  ['bloomGhosts', 'engine_bloom_ghosts_total', 'bloom filter positives that found no record'],
  ['flushes', 'engine_flushes_total', 'memtable flushes'],
  ['hits', 'engine_reads_hit_total', 'engine reads that found a record'],
  ['misses', 'engine_reads_miss_total', 'engine reads that found no record'],
  ['walSyncs', 'engine_wal_syncs_total', 'write-ahead log fsyncs'],
  ['corruptReads', 'engine_corrupt_reads_total', 'records dropped because they failed their checksum'],
];

/** Registers the engine metrics; `engines` is read at every scrape (the set is fixed at start). */
export function registerEngineMetrics(
  metrics: GatewayMetrics,
  engines: ReadonlyArray<{ role: EngineRole; engine: EngineStatsSource }>,
): void {
  let snapshot: Array<{ role: EngineRole; stats: ReturnType<EngineStatsSource['stats']> }> = [];
  metrics.beforeScrape(() => {
    snapshot = engines.map((e) => ({ role: e.role, stats: e.engine.stats() }));
  });
  const registers = [metrics.registry];
  for (const [field, name, help] of GAUGES) {
    new Gauge({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['engine'],
      registers,
      collect() {
        this.reset();
        for (const s of snapshot) {
          const v = s.stats[field];
          if (typeof v === 'number') this.set({ engine: s.role }, v);
        }
      },
    });
  }
  for (const [field, name, help] of COUNTERS) {
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: ['engine'],
      registers,
      collect() {
        this.reset();
        for (const s of snapshot) {
          const v = s.stats[field];
          if (typeof v === 'number') this.inc({ engine: s.role }, v);
        }
      },
    });
  }
  new Gauge({
    name: `${METRIC_PREFIX}engine_degraded`,
    help: '1 while the engine is degraded (a background I/O failure: it refuses writes), else 0',
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const s of snapshot) this.set({ engine: s.role }, s.stats.degraded ? 1 : 0);
    },
  });
}
