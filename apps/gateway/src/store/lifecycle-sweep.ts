// Carrying out bucket lifecycle rules (PutBucketLifecycleConfiguration): expiring current objects
// and aborting incomplete multipart uploads whose time has come. Invariants:
// - Only what a rule selects, and only once it is due (s3-protocol lifecycle.ts: creation or
//   initiation + days, rounded up to midnight UTC, or the rule's date), is removed.
// - An object is deleted only if it is still the version the sweep judged: the delete runs under
//   the key's lock with a check of ETag and Last-Modified, so an object written again meanwhile
//   (a new version, maybe no longer selected or due) survives.
// - One sweep at a time; each one walks the keys under each rule's prefix once (cost O(matching
//   objects) per sweep, paged by walkListing), so the interval bounds the work per unit of time.
import {
  abortDueAtMs,
  canTransition,
  expiresAtMs,
  type LifecycleRule,
  lifecycleFilterMatches,
  parseLifecycleConfiguration,
  transitionedClass,
} from '@blobcache/s3-protocol';
import type { Logger } from '../observability/logger.ts';
import { walkListing } from './list-walk.ts';
import { NoSuchUploadError, UploadStore } from './multipart-store.ts';
import type { BucketRecord, ListedHead } from './object-head.ts';
import type { ObjectStore } from './object-store.ts';

export type SweepReport = { buckets: number; expired: number; aborted: number; transitioned: number };

/** What the sweeper has done since start (served as metrics). */
export type LifecycleTotals = {
  sweeps: number;
  failures: number;
  expired: number;
  aborted: number;
  transitioned: number;
};

/** Thrown by the delete's check when the object changed since the sweep judged it. */
class ChangedMeanwhile extends Error {}

// Parsed once per bucket record: a record is replaced, never changed, when its rules change.
const parsed = new WeakMap<BucketRecord, LifecycleRule[]>();

/** The bucket's enabled rules (the record's XML was validated when it was put). */
export function lifecycleRulesOf(record: BucketRecord): LifecycleRule[] {
  if (record.lifecycle === undefined) return [];
  let rules = parsed.get(record);
  if (rules === undefined) {
    rules = parseLifecycleConfiguration(record.lifecycle).filter((r) => r.enabled);
    parsed.set(record, rules);
  }
  return rules;
}

/** The objects under the rule's prefix that `wanted` picks and the rule's filter selects. */
async function* selected(
  store: ObjectStore,
  bucket: string,
  rule: LifecycleRule,
  wanted: (seen: ListedHead) => boolean,
): AsyncGenerator<{ key: string; seen: ListedHead }> {
  for await (const entry of walkListing(store.engine, bucket, { prefix: rule.filter.prefix })) {
    if (entry.kind !== 'object' || !wanted(entry.head)) continue;
    // Tags live in the full head; read it only when the rule filters on them.
    const tags = rule.filter.tags.length > 0 ? (await store.getHead(bucket, entry.key))?.tags : undefined;
    if (lifecycleFilterMatches(rule.filter, entry.key, entry.head.size, tags))
      yield { key: entry.key, seen: entry.head };
  }
}

async function expireObjects(
  store: ObjectStore,
  bucket: string,
  rule: LifecycleRule,
  nowMs: number,
): Promise<number> {
  let expired = 0;
  const due = (seen: ListedHead): boolean => (expiresAtMs(rule, seen.lastModifiedMs) ?? Infinity) <= nowMs;
  for await (const { key, seen } of selected(store, bucket, rule, due)) {
    try {
      const deleted = await store.deleteObject(bucket, key, (current) => {
        if (current?.etag !== seen.etag || current.lastModifiedMs !== seen.lastModifiedMs)
          throw new ChangedMeanwhile();
      });
      if (deleted) expired++;
    } catch (err) {
      if (!(err instanceof ChangedMeanwhile)) throw err;
    }
  }
  return expired;
}

/**
 * Moves the objects a rule selects to the class of its latest due transition (down S3's waterfall
 * only). The head is rewritten in place, and only if it is still the version judged here.
 */
async function transitionObjects(
  store: ObjectStore,
  bucket: string,
  rule: LifecycleRule,
  nowMs: number,
): Promise<number> {
  let moved = 0;
  const targetOf = (seen: ListedHead): string | undefined =>
    transitionedClass(rule, seen.lastModifiedMs, seen.size, nowMs);
  const due = (seen: ListedHead): boolean => {
    const target = targetOf(seen);
    return target !== undefined && canTransition(seen.storageClass, target);
  };
  for await (const { key, seen } of selected(store, bucket, rule, due)) {
    const target = targetOf(seen)!;
    const changed = await store.rewriteHead(bucket, key, (current) =>
      current.etag === seen.etag &&
      current.lastModifiedMs === seen.lastModifiedMs &&
      canTransition(current.storageClass, target)
        ? { ...current, storageClass: target }
        : undefined,
    );
    if (changed) moved++;
  }
  return moved;
}

async function abortUploads(
  uploads: UploadStore,
  bucket: string,
  rule: LifecycleRule,
  nowMs: number,
): Promise<number> {
  const due: Array<{ uploadId: string; key: string }> = [];
  for await (const { uploadId, record } of uploads.uploads(bucket)) {
    const at = abortDueAtMs(rule, record.initiatedMs);
    if (at !== undefined && at <= nowMs && record.key.startsWith(rule.filter.prefix))
      due.push({ uploadId, key: record.key });
  }
  let aborted = 0;
  for (const { uploadId, key } of due) {
    try {
      await uploads.abort(bucket, key, uploadId);
      aborted++;
    } catch (err) {
      if (!(err instanceof NoSuchUploadError)) throw err; // completed or aborted meanwhile
    }
  }
  return aborted;
}

/** One pass over every bucket with lifecycle rules, as of `nowMs`. */
export async function sweepLifecycle(store: ObjectStore, nowMs: number): Promise<SweepReport> {
  const report: SweepReport = { buckets: 0, expired: 0, aborted: 0, transitioned: 0 };
  const uploads = UploadStore.of(store);
  for (const { name, record } of await store.listBuckets()) {
    const rules = lifecycleRulesOf(record);
    if (rules.length === 0) continue;
    report.buckets++;
    for (const rule of rules) {
      if (rule.expirationDays !== undefined || rule.expirationDateMs !== undefined)
        report.expired += await expireObjects(store, name, rule, nowMs);
      if (rule.abortIncompleteDays !== undefined)
        report.aborted += await abortUploads(uploads, name, rule, nowMs);
      if (rule.transitions.length > 0)
        report.transitioned += await transitionObjects(store, name, rule, nowMs);
    }
  }
  return report;
}

/**
 * Sweeps every `intervalMs` (and soon after start, and after `nudge()`: a rule just put acts
 * without waiting a whole interval). stop() waits for a sweep in flight.
 */
export class LifecycleSweeper {
  readonly #store: ObjectStore;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  readonly totals: LifecycleTotals = { sweeps: 0, failures: 0, expired: 0, aborted: 0, transitioned: 0 };

  constructor(store: ObjectStore, logger: Logger, intervalMs: number) {
    this.#store = store;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#schedule(0);
  }

  /** Sweep as soon as the current sweep (if any) ends. */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running) this.#again = true;
    else this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#run(), delayMs);
    this.#timer.unref();
  }

  #run(): void {
    if (this.#stopped || this.#running) return;
    this.#running = sweepLifecycle(this.#store, Date.now()).then(
      (report) => {
        this.totals.sweeps++;
        this.totals.expired += report.expired;
        this.totals.aborted += report.aborted;
        this.totals.transitioned += report.transitioned;
        if (report.expired > 0 || report.aborted > 0 || report.transitioned > 0)
          this.#logger.info(report, 'lifecycle rules applied');
      },
      (err: unknown) => {
        this.totals.failures++;
        this.#logger.error({ err }, 'lifecycle sweep failed');
      },
    );
    void this.#running.finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      const again = this.#again;
      this.#again = false;
      this.#schedule(again ? 0 : this.#intervalMs);
    });
  }
}
