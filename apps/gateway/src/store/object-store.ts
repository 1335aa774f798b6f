// Buckets and objects over one durable engine.
// Invariants:
// - The head put is the commit point of a write; chunks of a version are never modified, so a reader
//   sees the whole old or the whole new object.
// - A version's chunks are deleted only after it stopped being current AND its in-process readers
//   finished (VersionRefs); the write intent survives until then, so a crash leaves nothing that
//   recovery cannot reclaim.
// - Commits on one key are serialized (KeyLock): preconditions are checked against the head the
//   commit replaces.
// - A small object (<= MAX_INLINE_DATA_BYTES) is stored inside its head record: its write is ONE
//   engine put, atomic by construction, and needs no intent unless the commit makes chunk data
//   dead. Chunk + head puts are still not pipelined for larger objects, although the engine is
//   prefix-durable (a crash keeps a prefix of the issued writes): a chunk put can be refused on
//   its own (EngineFullError under a size budget) while the head put issued after it succeeds,
//   which would publish a head whose chunk was never written. Intent + chunk puts are pipelined
//   (PendingWrite.#withIntent): a refused intent only fails the write.
import assert from 'node:assert/strict';
import { S3Error } from '@blobcache/s3-protocol';
import type { Logger } from '../observability/logger.ts';
import { ChunkPool } from './chunk-pool.ts';
import { CHUNK_RECORD_SLACK_BYTES, type LentChunk, lendChunks, readChunks } from './chunk-reader.ts';
import { BodyTooLargeError, type ChunkWriteResult, writeChunks } from './chunk-writer.ts';
import type { EnginePort } from './engine-port.ts';
import { HeadCache } from './head-cache.ts';
import { type DataRef, encodeIntent, type Intent } from './intent.ts';
import { KeyLock } from './key-lock.ts';
import {
  BUCKET_PREFIX,
  bucketKey,
  CHUNK_BYTES,
  chunkCount,
  chunkKey,
  chunkPrefix,
  headKey,
  headPrefix,
  intentKey,
  newId,
  partListKey,
} from './layout.ts';
import {
  type BucketRecord,
  type DataPart,
  decodeBucket,
  decodeHead,
  decodePartList,
  encodeBucket,
  encodeHead,
  encodePartList,
  type ObjectHead,
  type ResolvedHead,
} from './object-head.ts';
import { OpenGate } from './open-gate.ts';
import type { SseKeys } from './sse.ts';
import { VersionRefs } from './version-refs.ts';

/**
 * Bodies up to this size are stored in the head record (when the whole head stays within the
 * engine's inline value limit, so listings still read no segments).
 */
export const MAX_INLINE_DATA_BYTES = 6144;

/**
 * How long close() waits for writes in flight to finish. The server has already let requests run
 * out their grace period (or cut them) by then, so what remains is clean-up after a cut body.
 */
export const CLOSE_WAIT_FOR_WRITERS_MS = 2_000;

/**
 * Chunk read buffers kept for reuse (chunk-pool.ts): enough for 8 responses streaming at once (each
 * holds its read-ahead and the chunk in its socket); more concurrent readers get unpooled buffers.
 */
export const MAX_POOLED_CHUNK_BUFFERS = 40;

/** Fields a writer provides; the store fills in versionId, parts and inline data. */
export type HeadFields = Omit<ObjectHead, 'versionId' | 'parts' | 'partsRef' | 'inline'>;

/** How a commit's data was written (PendingWrite); absent: chunks, intent already written. */
export type CommitWrite = { inline?: Buffer; intentWritten: boolean };

function hasData(ref: DataRef): boolean {
  return ref.dataIds.length > 0 || ref.partsRef === true;
}

/** Called under the key lock with the head being replaced; throw to refuse the commit. */
export type CommitCheck = (current: ObjectHead | undefined) => void;

export type PinnedObject = {
  head: ResolvedHead;
  /** Streams bytes [start, end) of this exact version. */
  read(start: number, end: number): AsyncGenerator<Buffer>;
  /**
   * The same bytes in pooled buffers: each chunk must be released once nothing reads it any more
   * (for a response: after its socket write completed). Allocates nothing per chunk.
   */
  lend(start: number, end: number): AsyncGenerator<LentChunk>;
  /** Must be called once the reader is done (also on error), so dead versions can be reclaimed. */
  release(): void;
};

export class ObjectStore {
  readonly engine: EnginePort;
  readonly #logger: Logger;
  /** Largest head (bytes) kept inline; bigger part lists move to `l/<versionId>`. */
  readonly #maxInlineHeadBytes: number;
  readonly #refs = new VersionRefs();
  readonly #opens = new OpenGate();
  readonly #chunkBuffers = new ChunkPool(CHUNK_BYTES + CHUNK_RECORD_SLACK_BYTES, MAX_POOLED_CHUNK_BUFFERS);
  /** Decoded heads (durable store only, see head-cache.ts); keyed like #locks: headKey latin1. */
  readonly #headCache: HeadCache | undefined;
  readonly #locks = new KeyLock();
  /** Reclaims scheduled or running, by the version being reclaimed. */
  readonly #reclaims = new Map<string, Promise<void>>();
  /** What each live intent of this process lists as replaced (inherited by the next writer). */
  readonly #intentReplaces = new Map<string, DataRef[]>();
  readonly #background = new Set<Promise<void>>();
  /** Writes in flight per bucket, and buckets being deleted (see deleteBucket). */
  readonly #writers = new Map<string, number>();
  /** Set while close() waits for the last writer to leave. */
  #writersGone: (() => void) | undefined;
  readonly #deletingBuckets = new Set<string>();
  /**
   * Every bucket record, once loadBuckets() ran (openStore does, before serving): the store is the
   * only writer of `b/` keys and changes them under the bucket lock, so the map stays exact and a
   * write no longer reads its bucket record from a segment (twice). Before loading: engine reads.
   */
  #buckets: Map<string, BucketRecord> | undefined;
  /** SSE-S3 keys (sse.ts); undefined for a store that never encrypts (the read-through cache). */
  readonly sse: SseKeys | undefined;

  constructor(
    engine: EnginePort,
    logger: Logger,
    maxInlineHeadBytes: number,
    /** headCacheBytes > 0 only for an engine that never evicts (durable, onFull: reject). */
    /** sse: the SSE-S3 keys; without them, encrypted writes are refused (a cache has none). */
    opts: { headCacheBytes?: number; sse?: SseKeys } = {},
  ) {
    this.engine = engine;
    this.#logger = logger;
    this.#maxInlineHeadBytes = maxInlineHeadBytes;
    this.#headCache = (opts.headCacheBytes ?? 0) > 0 ? new HeadCache(opts.headCacheBytes ?? 0) : undefined;
    this.sse = opts.sse;
  }

  // ---- buckets ----

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    if (this.#buckets) return this.#buckets.get(name);
    const bytes = await this.engine.get(bucketKey(name));
    return bytes ? decodeBucket(bytes) : undefined;
  }

  /**
   * The bucket record, without a promise: every record is in memory once loadBuckets ran (always
   * before the gateway serves). For per-request decisions: CORS, bucket policies, expiration.
   */
  cachedBucket(name: string): BucketRecord | undefined {
    // Hazard: answering "no such bucket" before the records are loaded would skip its policy.
    assert(this.#buckets !== undefined, 'bucket records are loaded before the store serves');
    return this.#buckets.get(name);
  }

  /** Loads every bucket record into memory; from then on getBucket reads no engine value. */
  async loadBuckets(): Promise<void> {
    const all = new Map<string, BucketRecord>();
    for (const b of await this.#scanBuckets()) all.set(b.name, b.record);
    this.#buckets = all;
  }

  /** Creates the bucket; returns false (and changes nothing) if it already exists. */
  createBucket(name: string, region: string): Promise<boolean> {
    return this.#locks.run(bucketKey(name), async () => {
      if (await this.engine.get(bucketKey(name))) return false;
      const record: BucketRecord = { createdMs: Date.now(), region };
      await this.engine.put(bucketKey(name), encodeBucket(record));
      this.#buckets?.set(name, record);
      return true;
    });
  }

  /**
   * Rewrites a bucket's record (its tags, its versioning state) under the bucket's lock; false
   * when there is no such bucket.
   */
  updateBucket(name: string, change: (record: BucketRecord) => BucketRecord): Promise<boolean> {
    return this.#locks.run(bucketKey(name), async () => {
      const bytes = await this.engine.get(bucketKey(name));
      if (!bytes) return false;
      const record = change(decodeBucket(bytes));
      await this.engine.put(bucketKey(name), encodeBucket(record));
      this.#buckets?.set(name, record);
      return true;
    });
  }

  /** Every bucket in name order: from memory once loaded (ListBuckets, lifecycle sweeps). */
  async listBuckets(): Promise<Array<{ name: string; record: BucketRecord }>> {
    if (!this.#buckets) return this.#scanBuckets();
    // Bucket names are ASCII: string order is the engine's byte order.
    const names = [...this.#buckets.keys()].sort();
    return names.map((name) => ({ name, record: this.#buckets!.get(name)! }));
  }

  async #scanBuckets(): Promise<Array<{ name: string; record: BucketRecord }>> {
    const out: Array<{ name: string; record: BucketRecord }> = [];
    for await (const e of this.engine.keys({ prefix: BUCKET_PREFIX, withValues: true })) {
      const name = e.key.subarray(BUCKET_PREFIX.length).toString('utf8');
      const value = e.value ?? (await this.engine.get(e.key));
      if (value) out.push({ name, record: decodeBucket(value) });
    }
    return out;
  }

  async isBucketEmpty(name: string): Promise<boolean> {
    for await (const _ of this.engine.keys({ prefix: headPrefix(name), limit: 1 })) return false;
    return true;
  }

  /**
   * Deletes an empty bucket. Hazard: a PUT that already passed its bucket check could commit into
   * a bucket deleted meanwhile; so writes in flight count as content, and new writes are refused
   * while the deletion runs (both checks are synchronous, so one of them always sees the other).
   */
  deleteBucket(name: string): Promise<'deleted' | 'missing' | 'not-empty'> {
    return this.#locks.run(bucketKey(name), async () => {
      if (!(await this.engine.get(bucketKey(name)))) return 'missing';
      this.#deletingBuckets.add(name);
      try {
        if ((this.#writers.get(name) ?? 0) > 0) return 'not-empty';
        if (!(await this.isBucketEmpty(name))) return 'not-empty';
        await this.engine.delete(bucketKey(name));
        // Still in #deletingBuckets here, so no writer got in through a stale entry meanwhile.
        this.#buckets?.delete(name);
        return 'deleted';
      } finally {
        this.#deletingBuckets.delete(name);
      }
    });
  }

  /** @internal PendingWrite registration: a bucket with writers in flight is not deleted. */
  async enterWriter(bucket: string): Promise<void> {
    if (this.#deletingBuckets.has(bucket)) throw new BucketGoneError(bucket);
    this.#writers.set(bucket, (this.#writers.get(bucket) ?? 0) + 1);
    try {
      if (!(await this.getBucket(bucket))) throw new BucketGoneError(bucket);
    } catch (err) {
      this.leaveWriter(bucket);
      throw err;
    }
  }

  /** @internal */
  leaveWriter(bucket: string): void {
    const n = (this.#writers.get(bucket) ?? 0) - 1;
    if (n > 0) this.#writers.set(bucket, n);
    else this.#writers.delete(bucket);
    if (this.#writers.size === 0) this.#writersGone?.();
  }

  // ---- objects: reads ----

  async getHead(bucket: string, key: string): Promise<ObjectHead | undefined> {
    const k = headKey(bucket, key);
    const cache = this.#headCache;
    if (!cache) {
      const bytes = await this.engine.get(k);
      return bytes ? decodeHead(bytes) : undefined;
    }
    const ck = k.toString('latin1');
    const hit = cache.get(ck);
    if (hit) return hit;
    const generation = cache.generation;
    const bytes = await this.engine.get(k);
    if (!bytes) return undefined;
    const head = decodeHead(bytes);
    cache.offer(ck, head, bytes.length, generation);
    return head;
  }

  async resolveParts(head: ObjectHead): Promise<ResolvedHead> {
    if (head.parts) return { ...head, parts: head.parts };
    const bytes = await this.engine.get(partListKey(head.versionId));
    if (!bytes) throw new Error(`part list of version ${head.versionId} is missing`);
    return { ...head, parts: decodePartList(bytes) };
  }

  /**
   * Returns the current version of an object, pinned against reclaim until `release()`.
   * Hazard: between reading a head and pinning it, an overwrite may commit and reclaim that version.
   * The head is read once: reclaims wait for the opens in flight when they were scheduled
   * (OpenGate), and this open pins what it read before it leaves the gate.
   */
  async openObject(bucket: string, key: string): Promise<PinnedObject | undefined> {
    const opening = this.#opens.enter();
    let head: ObjectHead | undefined;
    try {
      head = await this.getHead(bucket, key);
      if (head) this.#refs.pin(head.versionId);
    } finally {
      this.#opens.leave(opening);
    }
    if (!head) return undefined;
    const versionId = head.versionId;
    let resolved: ResolvedHead;
    try {
      resolved = await this.resolveParts(head);
    } catch (err) {
      this.#refs.unpin(versionId);
      throw err;
    }
    const sseKeys = resolved.sse === undefined ? undefined : this.#sseKeys();
    // A pinned object's inline bytes are plaintext (callers send them as they are).
    if (sseKeys && resolved.inline)
      resolved = { ...resolved, inline: sseKeys.transformAt(versionId, 0, resolved.inline) };
    const inline = resolved.inline;
    let released = false;
    const keys = inline ? undefined : sseKeys;
    const lend = inline
      ? (start: number, end: number) => lendInline(inline, start, end)
      : (start: number, end: number) =>
          lendChunks(this.engine, this.#chunkBuffers, resolved.parts, start, end);
    return {
      head: resolved,
      read: keys
        ? async function* (start, end) {
            for await (const c of decrypting(keys, resolved, start, lend(start, end))) yield c.bytes;
          }
        : inline
          ? (start, end) => readInline(inline, start, end)
          : (start, end) => readChunks(this.engine, resolved.parts, start, end),
      lend: keys ? (start, end) => decrypting(keys, resolved, start, lend(start, end)) : lend,
      release: () => {
        if (released) return;
        released = true;
        this.#refs.unpin(versionId);
      },
    };
  }

  // ---- objects: writes ----

  /**
   * Starts a new version. Its intent (so a crash mid-write is reclaimed on restart) is recorded by
   * PendingWrite before the first chunk, i.e. only once the body is too large to be stored inline.
   */
  async beginWrite(bucket: string, key: string, opts: { sse?: boolean } = {}): Promise<PendingWrite> {
    if (opts.sse) this.#sseKeys(); // refuse before anything is written
    await this.enterWriter(bucket);
    const versionId = newId();
    const intent: Intent = { bucket, key, dataIds: [versionId], replaces: [] };
    return new PendingWrite(this, versionId, intent, opts.sse === true);
  }

  /** The SSE-S3 keys, or NotImplemented for a store without them. */
  #sseKeys(): SseKeys {
    if (this.sse === undefined)
      throw new S3Error('NotImplemented', 'server-side encryption is not available for this bucket');
    return this.sse;
  }

  /** @internal used by PendingWrite: would a head with `bytes` of inline data fit the limit? */
  fitsInline(fields: HeadFields, versionId: string, bytes: number): boolean {
    const { inline: _ignored, ...plain } = fields as HeadFields & { inline?: Buffer };
    const json = encodeHead({ ...plain, versionId, parts: [] });
    return json.length + 1 + bytes <= this.#maxInlineHeadBytes;
  }

  /** @internal used by PendingWrite */
  async writeData(
    dataId: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
    sse = false,
  ): Promise<ChunkWriteResult> {
    // Sizes are checked on the plaintext stream's length: CTR keeps every length as it is.
    const data = sse ? this.#sseKeys().encrypt(dataId, body) : body;
    return writeChunks(this.engine, dataId, data, { maxBytes });
  }

  /** @internal used by PendingWrite: the commit protocol. */
  async commit(
    versionId: string,
    intent: Intent,
    fields: HeadFields,
    parts: DataPart[],
    check: CommitCheck | undefined,
    /** Runs under the key lock right after the head put (multipart: drop the upload record). */
    afterHeadPut?: () => Promise<void>,
    /** How the data was written; default: in chunks, with the intent already recorded. */
    write: CommitWrite = { intentWritten: true },
  ): Promise<ObjectHead> {
    const { bucket, key } = intent;
    // A caller may hand over a whole head as fields: only `write.inline` decides inline data.
    const { inline: _ignored, ...plain } = fields as HeadFields & { inline?: Buffer };
    return this.#locks.run(headKey(bucket, key).toString('latin1'), async () => {
      const current = await this.getHead(bucket, key);
      check?.(current);
      let head: ObjectHead = { ...plain, versionId, parts };
      if (write.inline) head.inline = write.inline;
      let encoded = encodeHead(head);
      if (encoded.length > this.#maxInlineHeadBytes) {
        assert(!write.inline, 'PendingWrite spills inline data that would not fit');
        await this.engine.put(partListKey(versionId), encodePartList(parts));
        head = { ...plain, versionId, partsRef: true };
        encoded = encodeHead(head);
      }
      const replaces = current ? this.#replacedBy(current) : [];
      // The intent is (re)written only when the commit makes data dead: the one written before the
      // first chunk says "replaces nothing", and an inline write has none and needs none (one
      // durable write for a small PUT of a new key or over a small object).
      const hasIntent = write.intentWritten || replaces.length > 0;
      if (replaces.length > 0)
        await this.engine.put(intentKey(versionId), encodeIntent({ ...intent, replaces }));
      // The commit point.
      const lockKey = headKey(bucket, key).toString('latin1');
      this.#headCache?.changing(lockKey);
      await this.engine.put(headKey(bucket, key), encoded);
      // Cached as a reader would decode it (not the in-memory head, which may carry extra fields).
      this.#headCache?.changed(lockKey, decodeHead(encoded), encoded.length);
      this.#afterCommit(versionId, current, replaces, hasIntent);
      await afterHeadPut?.();
      return head;
    });
  }

  /**
   * Replaces the tags of the current version in place: same version, data, ETag and
   * Last-Modified, as S3's PutObjectTagging and DeleteObjectTagging. One head put under the key
   * lock, so it is atomic and makes no data dead (no intent); readers holding the old head keep
   * reading the same bytes. False when there is no object. The head may outgrow the inline
   * limit by the tags' size (at most 10 tags): that limit decides inline data at write time only.
   */
  replaceTags(bucket: string, key: string, tags: ObjectHead['tags']): Promise<boolean> {
    return this.rewriteHead(bucket, key, ({ tags: _replaced, ...rest }) =>
      tags && tags.length > 0 ? { ...rest, tags } : rest,
    );
  }

  /**
   * Rewrites the current version's head in place (same version, data, ETag and Last-Modified:
   * tags, a lifecycle storage class transition) under the key lock; `change` may return
   * undefined to leave it as it is. False when there is no object or nothing changed.
   */
  rewriteHead(
    bucket: string,
    key: string,
    change: (head: ObjectHead) => ObjectHead | undefined,
  ): Promise<boolean> {
    const lockKey = headKey(bucket, key).toString('latin1');
    return this.#locks.run(lockKey, async () => {
      const current = await this.getHead(bucket, key);
      const next = current && change(current);
      if (!next) return false;
      assert(next.versionId === current.versionId, 'an in-place rewrite keeps the version');
      const encoded = encodeHead(next);
      this.#headCache?.changing(lockKey);
      await this.engine.put(headKey(bucket, key), encoded);
      this.#headCache?.changed(lockKey, decodeHead(encoded), encoded.length);
      return true;
    });
  }

  /** Deletes an object's current version; returns false if there was none. */
  deleteObject(bucket: string, key: string, check?: CommitCheck): Promise<boolean> {
    return this.#locks.run(headKey(bucket, key).toString('latin1'), async () => {
      const current = await this.getHead(bucket, key);
      check?.(current);
      if (!current) return false;
      const deleteId = newId();
      const replaces = this.#replacedBy(current);
      // Deleting an inline object (with nothing inherited to reclaim) makes no data dead: no intent.
      if (replaces.length > 0)
        await this.engine.put(
          intentKey(deleteId),
          encodeIntent({ bucket, key, dataIds: [], deletes: true, replaces }),
        );
      const lockKey = headKey(bucket, key).toString('latin1');
      this.#headCache?.changing(lockKey);
      await this.engine.delete(headKey(bucket, key));
      this.#headCache?.changed(lockKey, undefined, 0);
      this.#afterCommit(deleteId, current, replaces, replaces.length > 0);
      return true;
    });
  }

  /**
   * The data made dead by replacing `current`, plus what its own intent still has to reclaim; empty
   * when none of it has data (an inline object with nothing inherited). The replaced version's own
   * ref stays first (recovery of a delete tells by it whether the delete committed).
   */
  #replacedBy(current: ObjectHead): DataRef[] {
    const own: DataRef = {
      versionId: current.versionId,
      dataIds: current.parts ? [...new Set(current.parts.map((p) => p.id))] : [],
      partsRef: current.partsRef === true,
    };
    const inherited = (this.#intentReplaces.get(current.versionId) ?? []).filter((r) =>
      this.#reclaims.has(r.versionId),
    );
    const refs = [own, ...inherited];
    return refs.some(hasData) ? refs : [];
  }

  #afterCommit(
    versionId: string,
    replaced: ObjectHead | undefined,
    replaces: DataRef[],
    hasIntent: boolean,
  ): void {
    if (replaces.length > 0) this.#intentReplaces.set(versionId, replaces);
    if (replaced && (replaced.partsRef === true || (replaced.parts?.length ?? 0) > 0)) {
      const reclaim = new Promise<void>((resolve) => {
        // Opens in flight may have read `replaced` and not pinned it yet: wait for them first.
        this.#opens.afterOpensInFlight(() => {
          this.#refs.whenUnread(replaced.versionId, () => {
            this.#track(this.#reclaimVersion(replaced)).finally(resolve);
          });
        });
      });
      this.#reclaims.set(replaced.versionId, reclaim);
      reclaim.finally(() => this.#reclaims.delete(replaced.versionId));
    }
    if (!hasIntent) return;
    // The intent goes once everything it lists as dead has been reclaimed.
    // Tracked (and so awaited by drain) only once runnable: a reclaim blocked on a slow reader
    // must not block shutdown; recovery replays the intent instead.
    const waits = replaces.map((r) => this.#reclaims.get(r.versionId) ?? Promise.resolve());
    void Promise.all(waits).then(() =>
      this.#track(
        this.engine.delete(intentKey(versionId)).then(() => {
          this.#intentReplaces.delete(versionId);
        }),
      ),
    );
  }

  async #reclaimVersion(head: ObjectHead): Promise<void> {
    const resolved = head.parts ? head.parts : await this.resolveParts(head).then((h) => h.parts);
    for (const part of resolved) await this.deleteData(part.id, part.bytes);
    if (head.partsRef) await this.engine.delete(partListKey(head.versionId));
  }

  /** Deletes the chunks of one data id (`bytes` known) or every chunk under its prefix. */
  async deleteData(dataId: string, bytes?: number): Promise<void> {
    if (bytes !== undefined) {
      const n = chunkCount(bytes);
      for (let i = 0; i < n; i += 8) {
        const batch: Promise<boolean>[] = [];
        for (let j = i; j < Math.min(n, i + 8); j++) batch.push(this.engine.delete(chunkKey(dataId, j)));
        await Promise.all(batch);
      }
      return;
    }
    for (;;) {
      const keys: Buffer[] = [];
      for await (const e of this.engine.keys({ prefix: chunkPrefix(dataId), limit: 256 })) keys.push(e.key);
      if (keys.length === 0) return;
      await Promise.all(keys.map((k) => this.engine.delete(k)));
    }
  }

  #track(p: Promise<void>): Promise<void> {
    const tracked = p.catch((err: unknown) => {
      this.#logger.error({ err }, 'background reclaim failed; restart recovery will retry');
    });
    this.#background.add(tracked);
    tracked.finally(() => this.#background.delete(tracked));
    return tracked;
  }

  /** Waits for reclaims that can run now (those blocked on readers are left to recovery). */
  async drain(): Promise<void> {
    for (;;) {
      // Let follow-up work scheduled by settled promises register itself first.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#background.size === 0) return;
      await Promise.allSettled([...this.#background]);
    }
  }

  /**
   * Waits (at most `waitForWritersMs`) for writes in flight to commit or abort, then for background
   * reclaims, then closes the engine. Hazard: a write cut by the server's shutdown (its socket was
   * destroyed) aborts a moment later, and its clean-up deletes go to the engine; closing the engine
   * under it would leave that clean-up to the next start's recovery.
   */
  async close(waitForWritersMs = CLOSE_WAIT_FOR_WRITERS_MS): Promise<void> {
    if (this.#writers.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#writersGone = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, waitForWritersMs);
        }),
      ]);
      clearTimeout(timer);
      this.#writersGone = undefined;
    }
    await this.drain();
    await this.engine.close();
  }
}

/** A version being written: `write` the body, then `commit` (or `abort`). */
export class PendingWrite {
  readonly versionId: string;
  readonly #store: ObjectStore;
  readonly #intent: Intent;
  #written: ChunkWriteResult | undefined;
  /** The whole body when it stayed small enough to be stored in the head (nothing written yet). */
  #inline: Buffer | undefined;
  /** Set before the intent put is issued: from then on, discarding must clean up. */
  #intentWritten = false;
  #intentPut: Promise<void> | undefined;
  #done = false;

  /** SSE-S3: the data is encrypted at rest, under the key of `versionId` (sse.ts). */
  readonly #sse: boolean;

  constructor(store: ObjectStore, versionId: string, intent: Intent, sse = false) {
    this.#store = store;
    this.versionId = versionId;
    this.#intent = intent;
    this.#sse = sse;
  }

  /**
   * Reads the body. Up to MAX_INLINE_DATA_BYTES it is only buffered (memory bound: that many
   * bytes); past it, the intent is recorded and the body streams to chunks as before.
   */
  async write(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<ChunkWriteResult> {
    assert(!this.#written && !this.#done, 'write once');
    // `for await` (the chunk writer) also takes sync iterables; so must this.
    const it: AsyncIterator<Uint8Array> =
      Symbol.asyncIterator in body
        ? body[Symbol.asyncIterator]()
        : (async function* () {
            yield* body as Iterable<Uint8Array>;
          })();
    const small = Buffer.allocUnsafe(MAX_INLINE_DATA_BYTES);
    let filled = 0;
    let overflow: Uint8Array | undefined;
    for (;;) {
      const next = await it.next();
      if (next.done) {
        this.#inline = small.subarray(0, filled);
        this.#written = { bytes: filled, chunks: 0 };
        return this.#written;
      }
      const piece = next.value;
      if (filled + piece.byteLength > maxBytes) throw new BodyTooLargeError(maxBytes);
      if (filled + piece.byteLength > MAX_INLINE_DATA_BYTES) {
        overflow = piece;
        break;
      }
      small.set(piece, filled);
      filled += piece.byteLength;
    }
    this.#issueIntent();
    this.#written = await this.#withIntent(
      this.#store.writeData(
        this.versionId,
        prefixed([small.subarray(0, filled), overflow], it),
        maxBytes,
        this.#sse,
      ),
    );
    return this.#written;
  }

  /**
   * Records the intent and runs `writing` (chunk puts) without waiting in between: one durable
   * sync wait instead of two. Safe because the engine is prefix-durable (README: a later write
   * surviving a crash implies every earlier one did) and the intent put is issued first, so no
   * chunk can outlive a crash without its intent. Call #issueIntent() before creating `writing`.
   */
  async #withIntent<T>(writing: Promise<T>): Promise<T> {
    let result: T;
    const intent = this.#intentPut ?? Promise.resolve();
    try {
      result = await writing;
    } catch (err) {
      await intent.catch(() => {});
      throw err;
    }
    await intent;
    return result;
  }

  async commit(given: HeadFields, check?: CommitCheck): Promise<ObjectHead> {
    assert(this.#written && !this.#done, 'commit after write, once');
    assert.equal(given.size, this.#written.bytes, 'head size matches written bytes');
    this.#done = true;
    // The head says whether its data is encrypted, and only this write knows: a caller's fields
    // (a copy source's, say) never decide it.
    const { sse: _theirs, ...plain } = given;
    const fields: HeadFields = this.#sse ? { ...plain, sse: 'AES256' } : plain;
    try {
      let inline = this.#inline;
      if (inline && !this.#store.fitsInline(fields, this.versionId, inline.length)) {
        // A head with large metadata leaves no room: store the bytes as a chunk after all.
        const bytes = inline;
        this.#issueIntent();
        this.#written = await this.#withIntent(
          this.#store.writeData(
            this.versionId,
            (async function* () {
              yield bytes;
            })(),
            bytes.length,
            this.#sse,
          ),
        );
        this.#inline = undefined;
        inline = undefined;
      }
      // Inline bytes are data of this version too: encrypted under its key, like its chunks.
      if (inline && this.#sse) inline = this.#store.sse!.transformAt(this.versionId, 0, inline);
      return await this.#store.commit(
        this.versionId,
        this.#intent,
        fields,
        inline ? [] : [{ id: this.versionId, bytes: this.#written.bytes }],
        check,
        undefined,
        inline ? { inline, intentWritten: this.#intentWritten } : { intentWritten: this.#intentWritten },
      );
    } catch (err) {
      await this.#discard();
      throw err;
    } finally {
      this.#store.leaveWriter(this.#intent.bucket);
    }
  }

  /** Drops everything written so far; safe to call after a failed write. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#discard();
    } finally {
      this.#store.leaveWriter(this.#intent.bucket);
    }
  }

  /** Issues the intent put (synchronously: it is appended before anything issued after this). */
  #issueIntent(): void {
    this.#intentWritten = true;
    this.#intentPut = this.#store.engine.put(intentKey(this.versionId), encodeIntent(this.#intent));
    // Observed by #withIntent; keep a rejection from counting as unhandled meanwhile.
    this.#intentPut.catch(() => {});
  }

  async #discard(): Promise<void> {
    // Chunks exist only after the intent was written; a commit may have written the intent itself
    // (an inline write replacing chunk data), so the intent is deleted either way (a no-op if absent).
    if (this.#intentWritten)
      await this.#store.deleteData(this.versionId, this.#inline ? undefined : this.#written?.bytes);
    await this.#store.engine.delete(intentKey(this.versionId));
  }
}

/** The buffered start of a body (skipping undefined), then the rest of it. */
async function* prefixed(
  first: ReadonlyArray<Uint8Array | undefined>,
  rest: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    for (const piece of first) if (piece && piece.byteLength > 0) yield piece;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stopped early (e.g. BodyTooLargeError): let the body's source clean up.
    await rest.return?.();
  }
}

async function* readInline(bytes: Buffer, start: number, end: number): AsyncGenerator<Buffer> {
  assert(start >= 0 && start <= end && end <= bytes.length, 'valid byte range of an inline object');
  if (end > start) yield bytes.subarray(start, end);
}

async function* lendInline(bytes: Buffer, start: number, end: number): AsyncGenerator<LentChunk> {
  for await (const b of readInline(bytes, start, end)) yield { bytes: b, release: () => {} };
}

/** The bucket was deleted (or is being deleted) under a write. */
export class BucketGoneError extends Error {
  override name = 'BucketGoneError';
  readonly bucket: string;
  constructor(bucket: string) {
    super(`bucket ${bucket} does not exist`);
    this.bucket = bucket;
  }
}

/**
 * `chunks` (a chunked object's bytes from `start`, in order) decrypted: each chunk lies within one data
 * part (chunk-reader never crosses parts), so its plaintext is the part's keystream at the chunk's
 * offset in the part. The lent buffer goes back at once; the plaintext is the consumer's.
 */
async function* decrypting(
  keys: SseKeys,
  head: ResolvedHead,
  start: number,
  chunks: AsyncIterable<LentChunk>,
): AsyncGenerator<LentChunk> {
  const parts = head.parts;
  let part = 0;
  let partStart = 0;
  let pos = start;
  for await (const chunk of chunks) {
    while (part < parts.length && pos >= partStart + parts[part]!.bytes) {
      partStart += parts[part]!.bytes;
      part++;
    }
    assert(
      part < parts.length && pos + chunk.bytes.length <= partStart + parts[part]!.bytes,
      'a chunk within one part',
    );
    const plain = keys.transformAt(parts[part]!.id, pos - partStart, chunk.bytes);
    pos += chunk.bytes.length;
    chunk.release();
    yield { bytes: plain, release: () => {} };
  }
}
