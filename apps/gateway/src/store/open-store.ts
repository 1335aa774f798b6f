// Opens the object store on `<dataDir>/engine` and replays crash intents before serving.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobEngine } from '@blobcache/engine';
import type { Logger } from '../observability/logger.ts';
import type { EnginePort } from './engine-port.ts';
import { ObjectStore } from './object-store.ts';
import { recoverIntents } from './recovery.ts';
import { SseKeys } from './sse.ts';

/** Heads up to this size stay inline in the engine's key index (listing reads no segments). */
export const MAX_INLINE_HEAD_BYTES = 8192;

/** Decoded heads kept in memory (hot GETs read no segment); safe because this engine never evicts. */
export const HEAD_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The engine's cache of recently flushed memtables (reads of fresh chunks skip the segment read
 * and CRC), for the read-through cache's engine. Kept small: the engine's default (up to 256 MiB)
 * would alone take the gateway past its 300 MiB peak-RSS budget for a 1 GiB upload + download,
 * and the OS page cache already holds recently written segments.
 */
export const ENGINE_READ_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The durable store's engine keeps no read cache: its flushed memtable slabs go straight back to
 * the engine's pool of idle slabs (maxIdleSlabs, 2 by default) for the next memtables, which then
 * take no page faults. Measured on the bench's 1 GiB upload + download (apps/gateway/bench, memory
 * case): a 32 MiB read cache and no pool peaked at 268-271 MiB RSS and uploaded at 143-145 MiB/s;
 * the 32 MiB cache plus the pool at 293-296 MiB (too close to the 300 MiB budget); no cache plus
 * the pool at 260-266 MiB and 164-193 MiB/s. 64 MiB GETs did not change (1.7-1.8 GiB/s either
 * way): small objects are inline in their heads, and large reads are never mostly this fresh.
 */
const STORE_READ_CACHE_BYTES = 0;

export type OpenStoreOptions = {
  dataDir: string;
  maxBytes: number;
  logger: Logger;
  /** How often long open steps (engine recovery, intent replay) log progress; default 2 s. */
  progressLogIntervalMs?: number;
};

export async function openStore(opts: OpenStoreOptions): Promise<ObjectStore> {
  const dir = join(opts.dataDir, 'engine');
  await mkdir(dir, { recursive: true });
  const engine: EnginePort = await BlobEngine.open(dir, {
    durability: 'durable',
    maxBytes: opts.maxBytes,
    onFull: 'reject',
    maxInlineValueBytes: MAX_INLINE_HEAD_BYTES,
    readCacheBytes: STORE_READ_CACHE_BYTES,
    logger: opts.logger.child({ component: 'engine' }),
    ...(opts.progressLogIntervalMs === undefined
      ? {}
      : { progressLogIntervalMs: opts.progressLogIntervalMs }),
  });
  let sse: SseKeys;
  try {
    sse = await SseKeys.open(opts.dataDir);
  } catch (err) {
    await engine.close();
    throw err;
  }
  const store = new ObjectStore(engine, opts.logger.child({ component: 'store' }), MAX_INLINE_HEAD_BYTES, {
    headCacheBytes: HEAD_CACHE_BYTES,
    sse,
  });
  try {
    const report = await recoverIntents(store, engine, opts.logger, opts.progressLogIntervalMs);
    if (report.intents > 0) opts.logger.info(report, 'recovered write intents');
    await store.loadBuckets();
  } catch (err) {
    await engine.close();
    throw err;
  }
  return store;
}
