// Invariant: the engine only ever runs with a frozen, fully-defaulted config that passed this
// schema, including the cross-field rules (mode-dependent defaults, memtable vs maxBytes).

import { type Logger, pino } from 'pino';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { DEFAULT_PROGRESS_LOG_INTERVAL_MS } from './progress.ts';

const MiB = 1024 * 1024;

/** LMDB (lmdb-js default page size) rejects keys above 1978 bytes; user keys are LMDB keys. */
export const LMDB_MAX_KEY_BYTES = 1978;
/** Record offsets and lengths are kept in u32 index fields. */
export const MAX_VALUE_BYTES_LIMIT = 1024 * MiB;

const isLogger = (v: unknown): v is Logger =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Logger).info === 'function' &&
  typeof (v as Logger).child === 'function';

export const engineOptionsSchema = z
  .object({
    /** durable: WAL + fdatasync before a put resolves; cache: puts resolve after the memory copy. */
    durability: z.enum(['durable', 'cache']).default('durable'),
    /** Upper bound on live bytes (record header + key + value of live items); 0 = unbounded. */
    maxBytes: z.number().int().min(0).default(0),
    /** What happens when maxBytes is reached. Default: evict in cache mode, reject in durable mode. */
    onFull: z.enum(['evict', 'reject']).optional(),
    /** Memtable (slab) size = target segment size. */
    memtableBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 * MiB)
      .default(32 * MiB),
    /** Flush a non-empty memtable once it is this old (0 = only when full, on flush() or close()). */
    flushIntervalMs: z.number().int().min(0).default(0),
    /** Sealed memtables waiting for their flush before puts wait (write backpressure). */
    maxInflightMemtables: z.number().int().min(1).max(16).default(3),
    /** Largest accepted value. */
    maxValueBytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALUE_BYTES_LIMIT)
      .default(64 * MiB),
    /** Largest accepted key (>= 1100 so a bucket prefix + a 1024-byte S3 key fits). */
    maxKeyBytes: z.number().int().min(1).max(LMDB_MAX_KEY_BYTES).default(1536),
    /** Values up to this size are also stored in the LMDB key index (listing with values). */
    maxInlineValueBytes: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024)
      .default(4096),
    /** Compare the stored key on every read. Default: true in durable mode, false in cache mode. */
    verifyKeys: z.boolean().optional(),
    /** Verify the payload CRC (CRC32 of the stored value) on every disk read. */
    verifyValueCrc: z.boolean().default(true),
    /** Initial capacity of the in-memory hash index (it grows by doubling). */
    expectedItems: z.number().int().min(1024).default(65_536),
    bloomExpectedItems: z.number().int().min(1024).default(1_000_000),
    bloomFalsePositiveRate: z.number().gt(0).lt(0.5).default(0.01),
    /** Durable mode: rewrite a segment when this fraction of its bytes is dead. */
    compactionWasteRatio: z.number().gt(0).max(1).default(0.25),
    /** Segments this close to the newest id are never drained or rewritten. */
    coolingSegments: z.number().int().min(0).default(2),
    /** Run maintenance (drain/rewrite) after every N flushed segments. */
    maintenanceEverySegments: z.number().int().min(1).default(5),
    /** Victims per eviction batch before yielding to the event loop. */
    evictionBatchItems: z.number().int().min(1).max(4096).default(64),
    /** Cap on cached open read file handles. */
    maxOpenSegmentFiles: z.number().int().min(4).max(65_536).default(256),
    /**
     * Records up to this size are read with a synchronous pread on an already open segment
     * file: a page-cache hit costs a few microseconds instead of a thread pool round trip, but
     * a read that misses the page cache blocks the event loop for the disk's latency. 0 = never.
     */
    syncReadMaxBytes: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    /**
     * Memory kept for the slabs of the most recently flushed memtables, served to reads without
     * a segment read or CRC check (they are the bytes the engine wrote, never read back from
     * disk). Not part of maxBytes (which bounds stored bytes). Default: 8 x memtableBytes
     * (as many slabs as the design's Librarian keeps), at most 256 MiB. 0 = off.
     */
    readCacheBytes: z.number().int().min(0).optional(),
    /**
     * Prefault the next memtable's slab on the thread pool while the active one fills (one spare
     * slab: memtableBytes more resident memory while writes stream; saves the main thread the
     * page faults of fresh memory, ~0.45 ms per MiB). Default off: measured in alternating runs,
     * the /dev/zero read competes with WAL writes and fdatasyncs for the thread pool and memory
     * bandwidth (durable 1 MiB puts ~760 -> ~650 MiB/s, cache 1 MiB ~880 -> ~780) and helped
     * only 64 KiB cache puts (~630 -> ~680); the gateway's 300 MiB peak-RSS budget has no room
     * for the spare either.
     */
    prefaultMemtables: z.boolean().optional(),
    /**
     * Flushed memtable slabs the read cache lets go are kept (at most this many, each
     * memtableBytes) and reused for new memtables instead of fresh memory, whose first-touch page
     * faults and GCs cost the main thread about half of a large put's time (slabpool.ts). They
     * stay resident while the engine is idle: up to maxIdleSlabs x memtableBytes. 0 = off.
     */
    maxIdleSlabs: z.number().int().min(0).max(16).default(2),
    /** Segment sub-directories; 0 = derive (only for a new directory, then persisted). */
    shards: z.number().int().min(0).max(256).default(0),
    /**
     * Long steps at open (WAL replay, segment loading, key index rebuild) log progress this often
     * once they run longer than this; 0 = at every check (tests, debugging).
     */
    progressLogIntervalMs: z.number().int().min(0).default(DEFAULT_PROGRESS_LOG_INTERVAL_MS),
    logger: z.custom<Logger>(isLogger, { message: 'logger must be a pino logger' }).optional(),
  })
  .strict();

export type EngineOptions = z.input<typeof engineOptionsSchema>;

export interface EngineConfig {
  readonly durability: 'durable' | 'cache';
  readonly maxBytes: number;
  readonly onFull: 'evict' | 'reject';
  readonly memtableBytes: number;
  readonly maxInflightMemtables: number;
  readonly flushIntervalMs: number;
  readonly maxValueBytes: number;
  readonly maxKeyBytes: number;
  readonly maxInlineValueBytes: number;
  readonly verifyKeys: boolean;
  readonly verifyValueCrc: boolean;
  readonly expectedItems: number;
  readonly bloomExpectedItems: number;
  readonly bloomFalsePositiveRate: number;
  readonly compactionWasteRatio: number;
  readonly coolingSegments: number;
  readonly maintenanceEverySegments: number;
  readonly evictionBatchItems: number;
  readonly maxOpenSegmentFiles: number;
  readonly syncReadMaxBytes: number;
  readonly readCacheBytes: number;
  readonly prefaultMemtables: boolean;
  readonly maxIdleSlabs: number;
  readonly shards: number;
  readonly progressLogIntervalMs: number;
  readonly logger: Logger;
}

export function resolveConfig(options: EngineOptions | undefined): EngineConfig {
  const parsed = engineOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid engine options: ${msg}`);
  }
  const o = parsed.data;
  const durable = o.durability === 'durable';
  if (options?.memtableBytes === undefined && o.maxBytes > 0) {
    // Unflushed memtables count as live bytes and cannot be evicted: a small store gets small
    // memtables (8 KiB .. 32 MiB) unless the caller chose a size (whose floor stays 64 KiB).
    // Under eviction they also sit outside SIEVE, shielding the newest items from it, and a
    // write burst fills up to 1 + maxInflightMemtables of them: 1/32 of maxBytes keeps that near
    // 1/8 of the budget (1/8 each lost SIEVE up to 0.04 of hit ratio: bench/sieve-fidelity.ts;
    // a 64 KiB floor kept a quarter of a 256 KiB budget outside SIEVE, -0.075). A value larger
    // than the memtable still works: it gets a memtable (and segment) of its own.
    const share = (o.onFull ?? (durable ? 'reject' : 'evict')) === 'evict' ? 32 : 8;
    o.memtableBytes = Math.min(o.memtableBytes, Math.max(8 * 1024, Math.floor(o.maxBytes / share)));
  }
  if (o.maxBytes > 0 && o.maxBytes < 2 * o.memtableBytes) {
    throw new ConfigError(
      `maxBytes (${o.maxBytes}) must be 0 or at least 2 x memtableBytes (${o.memtableBytes}): ` +
        'unflushed memtables count as live bytes and cannot be evicted',
    );
  }
  const readCacheBytes = o.readCacheBytes ?? Math.min(256 * MiB, 8 * o.memtableBytes);
  return Object.freeze({
    durability: o.durability,
    maxBytes: o.maxBytes,
    onFull: o.onFull ?? (durable ? 'reject' : 'evict'),
    memtableBytes: o.memtableBytes,
    maxInflightMemtables: o.maxInflightMemtables,
    flushIntervalMs: o.flushIntervalMs,
    maxValueBytes: o.maxValueBytes,
    maxKeyBytes: o.maxKeyBytes,
    maxInlineValueBytes: o.maxInlineValueBytes,
    verifyKeys: o.verifyKeys ?? durable,
    verifyValueCrc: o.verifyValueCrc,
    expectedItems: o.expectedItems,
    bloomExpectedItems: o.bloomExpectedItems,
    bloomFalsePositiveRate: o.bloomFalsePositiveRate,
    compactionWasteRatio: o.compactionWasteRatio,
    coolingSegments: o.coolingSegments,
    maintenanceEverySegments: o.maintenanceEverySegments,
    evictionBatchItems: o.evictionBatchItems,
    maxOpenSegmentFiles: o.maxOpenSegmentFiles,
    syncReadMaxBytes: o.syncReadMaxBytes,
    readCacheBytes,
    prefaultMemtables: o.prefaultMemtables ?? false,
    maxIdleSlabs: o.maxIdleSlabs,
    shards: o.shards,
    progressLogIntervalMs: o.progressLogIntervalMs,
    logger: o.logger ?? pino({ level: 'silent' }),
  });
}

/** Shard count for a new directory: ~1024 segment files per directory, power of two, <= 256. */
export function deriveShards(cfg: EngineConfig): number {
  if (cfg.shards > 0) return cfg.shards;
  if (cfg.maxBytes === 0) return 1;
  const files = Math.ceil(cfg.maxBytes / cfg.memtableBytes) * 2;
  let shards = 1;
  while (shards < files / 1024 && shards < 256) shards *= 2;
  return shards;
}
