// The read-through cache's state and its upstream conversations, independent of HTTP routing:
// which buckets are mapped, the cache store (its own engine: cache durability, SIEVE eviction
// under BLOBCACHE_MAX_BYTES), freshness, the negative cache, the write fence and coalescing.
// Invariants:
// - Freshness lives only in memory (bounded) and names the exact cached version; after a restart
//   (when the cache engine may have lost recent deletes) every cached copy is revalidated before
//   it is served fresh again.
// - Negative entries and fills are recorded only by reads no write-through write overlapped
//   (KeyFence), so a write is never undone by a read that raced it.
// - At most one upstream GET per key is in flight for whole-object misses and revalidations.
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Logger } from '../observability/logger.ts';
import type { ObjectHead } from '../store/object-head.ts';
import type { HeadFields, ObjectStore } from '../store/object-store.ts';
import { BoundedTtlMap } from './bounded-ttl-map.ts';
import type { BucketMap } from './bucket-map.ts';
import type { CacheCounters } from './counters.ts';
import { Fill } from './fill.ts';
import { KeyFence } from './key-fence.ts';
import { SingleFlight } from './single-flight.ts';
import { classifyUpstreamError, type UpstreamOutcome } from './upstream-errors.ts';
import { headFieldsFrom } from './upstream-head.ts';

/** What one coalesced upstream GET (miss or revalidation) produced. */
export type Refresh =
  | { kind: 'fill'; fill: Fill }
  /** Too large to cache: the body is for the leader only. */
  | { kind: 'uncacheable'; fields: HeadFields; body: AsyncIterable<Uint8Array> & { destroy?: () => void } }
  | Exclude<UpstreamOutcome, { kind: 'notModified' }>
  | { kind: 'notModified' };

/** What one coalesced upstream HEAD produced. */
export type HeadRefresh = { kind: 'head'; fields: HeadFields } | UpstreamOutcome;

export type UpstreamCacheOptions = {
  endpoint: string;
  client: S3Client;
  buckets: BucketMap;
  store: ObjectStore;
  counters: CacheCounters;
  logger: Logger;
  cacheTtlMs: number;
  negativeTtlMs: number;
  /** How long an upstream listing page is reused (0 = never). */
  listTtlMs?: number;
  /** Objects larger than this are relayed, never cached (0 = no limit). */
  maxFillBytes: number;
  maxNegativeEntries?: number;
  maxFreshEntries?: number;
};

/**
 * Memory bounds of the in-memory maps (each entry is roughly the key plus ~100 bytes): past them
 * the oldest entries go, which only costs an extra revalidation or an extra upstream 404.
 */
export const DEFAULT_MAX_FRESH_ENTRIES = 200_000;
export const DEFAULT_MAX_NEGATIVE_ENTRIES = 50_000;
/** Listing pages kept (each up to 1000 entries): bounded so a listing crawl cannot grow memory. */
export const DEFAULT_MAX_LISTING_PAGES = 256;

export function cacheKey(upstreamBucket: string, key: string): string {
  return `${upstreamBucket}/${key}`;
}

export class UpstreamCache {
  readonly endpoint: string;
  readonly client: S3Client;
  readonly buckets: BucketMap;
  readonly store: ObjectStore;
  readonly counters: CacheCounters;
  readonly logger: Logger;
  readonly fence = new KeyFence();
  readonly #negative: BoundedTtlMap<true>;
  readonly #fresh: BoundedTtlMap<string>;
  readonly #gets = new SingleFlight<Refresh>();
  readonly #heads = new SingleFlight<HeadRefresh>();
  /** Upstream listing pages by `<upstream bucket>/<request shape>` (BLOBCACHE_LIST_TTL). */
  readonly #listings = new BoundedTtlMap<unknown>(DEFAULT_MAX_LISTING_PAGES);
  readonly #o: UpstreamCacheOptions;

  constructor(o: UpstreamCacheOptions) {
    this.#o = o;
    this.endpoint = o.endpoint;
    this.client = o.client;
    this.buckets = o.buckets;
    this.store = o.store;
    this.counters = o.counters;
    this.logger = o.logger;
    this.#negative = new BoundedTtlMap(o.maxNegativeEntries ?? DEFAULT_MAX_NEGATIVE_ENTRIES);
    this.#fresh = new BoundedTtlMap(o.maxFreshEntries ?? DEFAULT_MAX_FRESH_ENTRIES);
  }

  /** The upstream bucket for a local bucket, or undefined when the bucket is local-only. */
  upstreamBucket(localBucket: string): string | undefined {
    return this.buckets.upstreamFor(localBucket);
  }

  /** Whether an object of `size` bytes may be cached (the admission limit; 0 = no limit). */
  admits(size: number): boolean {
    return this.#o.maxFillBytes === 0 || size <= this.#o.maxFillBytes;
  }

  isFresh(ck: string, head: ObjectHead): boolean {
    return this.#fresh.get(ck) === head.versionId;
  }

  markFresh(ck: string, versionId: string): void {
    this.#fresh.set(ck, versionId, this.#o.cacheTtlMs);
  }

  isKnownMissing(ck: string): boolean {
    return this.#negative.get(ck) === true;
  }

  /** Remembers an upstream 404 unless a write overlapped the read that saw it. */
  rememberMissing(ck: string, poisoned: boolean): void {
    if (!poisoned) this.#negative.set(ck, true, this.#o.negativeTtlMs);
  }

  /** A reused listing page, if BLOBCACHE_LIST_TTL allows and no write went through since. */
  listingPage<T>(ub: string, shape: string): T | undefined {
    return this.#listings.get(`${ub}/${shape}`) as T | undefined;
  }

  rememberListingPage(ub: string, shape: string, page: unknown): void {
    this.#listings.set(`${ub}/${shape}`, page, this.#o.listTtlMs ?? 0);
  }

  /** Forgets everything about a key before a write-through write (called under the fence). */
  forget(ck: string): void {
    this.#listings.deletePrefix(ck.slice(0, ck.indexOf('/') + 1));
    this.#negative.delete(ck);
    this.#fresh.delete(ck);
    this.#gets.detach(ck);
    this.#heads.detach(ck);
  }

  forgetPrefix(prefix: string): void {
    this.#listings.deletePrefix(prefix.slice(0, prefix.indexOf('/') + 1));
    this.#negative.deletePrefix(prefix);
    this.#fresh.deletePrefix(prefix);
    this.fence.poisonPrefix(prefix);
  }

  /** Drops the cached copy (if it is still `versionId`, when given). Purging is always safe. */
  async purge(ub: string, key: string, versionId?: string): Promise<boolean> {
    this.#fresh.delete(cacheKey(ub, key));
    return this.store
      .deleteObject(ub, key, (current) => {
        if (versionId !== undefined && current !== undefined && current.versionId !== versionId) {
          throw new StalePurge();
        }
      })
      .catch((err: unknown) => {
        if (err instanceof StalePurge) return false;
        throw err;
      });
  }

  /** The one upstream GET for a whole-object miss (cached undefined) or revalidation. */
  refresh(
    ub: string,
    key: string,
    cached: ObjectHead | undefined,
  ): { value: Promise<Refresh>; leader: boolean } {
    const ck = cacheKey(ub, key);
    const joined = this.#gets.run(
      ck,
      () => this.#refresh(ub, key, cached),
      (r) => (r.kind === 'fill' ? r.fill.done : undefined),
    );
    if (!joined.leader) this.counters.inc('coalesced');
    return joined;
  }

  async #refresh(ub: string, key: string, cached: ObjectHead | undefined): Promise<Refresh> {
    const ck = cacheKey(ub, key);
    const ticket = this.fence.beginRead(ck);
    let handedToFill = false;
    try {
      this.counters.inc('upstreamRequests');
      if (cached) this.counters.inc('revalidations');
      let out: GetObjectCommandOutput;
      try {
        out = await this.client.send(
          new GetObjectCommand({
            Bucket: ub,
            Key: key,
            ...(cached ? { IfNoneMatch: `"${cached.etag}"` } : {}),
          }),
        );
      } catch (err) {
        return await this.#settleFailure(ub, key, ticket.poisoned, cached, classifyUpstreamError(err));
      }
      const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
      if (!body) throw new Error('upstream GetObject returned no body');
      const fields = headFieldsFrom(out);
      if (!this.admits(fields.size)) {
        this.counters.inc('passthrough');
        return { kind: 'uncacheable', fields, body };
      }
      const fill = new Fill({
        store: this.store,
        bucket: ub,
        key,
        fields,
        body,
        ticket,
        counters: this.counters,
        logger: this.logger,
        onCommit: (head) => this.markFresh(ck, head.versionId),
      });
      handedToFill = true;
      return { kind: 'fill', fill };
    } finally {
      if (!handedToFill) ticket.end();
    }
  }

  /** The one upstream HEAD for a HeadObject miss or revalidation. */
  headRefresh(ub: string, key: string, cached: ObjectHead | undefined): Promise<HeadRefresh> {
    const ck = cacheKey(ub, key);
    const joined = this.#heads.run(ck, async () => {
      const ticket = this.fence.beginRead(ck);
      try {
        this.counters.inc('upstreamRequests');
        if (cached) this.counters.inc('revalidations');
        try {
          const out = await this.client.send(
            new HeadObjectCommand({
              Bucket: ub,
              Key: key,
              ...(cached ? { IfNoneMatch: `"${cached.etag}"` } : {}),
            }),
          );
          const fields = headFieldsFrom(out);
          // Changed upstream: the cached bytes are outdated; the next GET refills.
          if (cached && fields.etag !== cached.etag) await this.purge(ub, key, cached.versionId);
          return { kind: 'head', fields } as HeadRefresh;
        } catch (err) {
          return await this.#settleFailure(ub, key, ticket.poisoned, cached, classifyUpstreamError(err));
        }
      } finally {
        ticket.end();
      }
    });
    if (!joined.leader) this.counters.inc('coalesced');
    return joined.value;
  }

  /** Applies what an upstream failure means to the cache (304, 404, errors). */
  async #settleFailure(
    ub: string,
    key: string,
    poisoned: boolean,
    cached: ObjectHead | undefined,
    o: UpstreamOutcome,
  ): Promise<UpstreamOutcome> {
    const ck = cacheKey(ub, key);
    switch (o.kind) {
      case 'notModified':
        this.counters.inc('notModified');
        if (cached && !poisoned) this.markFresh(ck, cached.versionId);
        return o;
      case 'missing':
        if (cached) await this.purge(ub, key, cached.versionId);
        this.rememberMissing(ck, poisoned);
        return o;
      case 'unavailable':
        this.counters.inc('upstreamErrors');
        this.logger.warn({ bucket: ub, key, problem: o.detail }, 'upstream request failed');
        return o;
      case 'rejected':
        return o;
    }
  }
}

class StalePurge extends Error {}
