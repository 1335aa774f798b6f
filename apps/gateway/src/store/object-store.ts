// Buckets and objects over one durable engine.
// Invariants:
// - The head put is the commit point of a write; chunks of a version are never modified, so a reader
//   sees the whole old or the whole new object.
// - A version's chunks are deleted only after it stopped being current AND its in-process readers
//   finished (VersionRefs); the write intent survives until then, so a crash leaves nothing that
//   recovery cannot reclaim.
// - Commits on one key are serialized (KeyLock): preconditions are checked against the head the
//   commit replaces.
import assert from 'node:assert/strict';
import type { Logger } from '../observability/logger.ts';
import { readChunks } from './chunk-reader.ts';
import { type ChunkWriteResult, writeChunks } from './chunk-writer.ts';
import type { EnginePort } from './engine-port.ts';
import { type DataRef, encodeIntent, type Intent } from './intent.ts';
import { KeyLock } from './key-lock.ts';
import {
  BUCKET_PREFIX,
  bucketKey,
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
import { VersionRefs } from './version-refs.ts';

/** Fields a writer provides; the store fills in versionId and parts. */
export type HeadFields = Omit<ObjectHead, 'versionId' | 'parts' | 'partsRef'>;

/** Called under the key lock with the head being replaced; throw to refuse the commit. */
export type CommitCheck = (current: ObjectHead | undefined) => void;

export type PinnedObject = {
  head: ResolvedHead;
  /** Streams bytes [start, end) of this exact version. */
  read(start: number, end: number): AsyncGenerator<Buffer>;
  /** Must be called once the reader is done (also on error), so dead versions can be reclaimed. */
  release(): void;
};

export class ObjectStore {
  readonly engine: EnginePort;
  readonly #logger: Logger;
  /** Largest head (bytes) kept inline; bigger part lists move to `l/<versionId>`. */
  readonly #maxInlineHeadBytes: number;
  readonly #refs = new VersionRefs();
  readonly #locks = new KeyLock();
  /** Reclaims scheduled or running, by the version being reclaimed. */
  readonly #reclaims = new Map<string, Promise<void>>();
  /** What each live intent of this process lists as replaced (inherited by the next writer). */
  readonly #intentReplaces = new Map<string, DataRef[]>();
  readonly #background = new Set<Promise<void>>();
  /** Writes in flight per bucket, and buckets being deleted (see deleteBucket). */
  readonly #writers = new Map<string, number>();
  readonly #deletingBuckets = new Set<string>();

  constructor(engine: EnginePort, logger: Logger, maxInlineHeadBytes: number) {
    this.engine = engine;
    this.#logger = logger;
    this.#maxInlineHeadBytes = maxInlineHeadBytes;
  }

  // ---- buckets ----

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const bytes = await this.engine.get(bucketKey(name));
    return bytes ? decodeBucket(bytes) : undefined;
  }

  /** Creates the bucket; returns false (and changes nothing) if it already exists. */
  createBucket(name: string, region: string): Promise<boolean> {
    return this.#locks.run(bucketKey(name), async () => {
      if (await this.engine.get(bucketKey(name))) return false;
      await this.engine.put(bucketKey(name), encodeBucket({ createdMs: Date.now(), region }));
      return true;
    });
  }

  async listBuckets(): Promise<Array<{ name: string; record: BucketRecord }>> {
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
      if (!(await this.engine.get(bucketKey(bucket)))) throw new BucketGoneError(bucket);
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
  }

  // ---- objects: reads ----

  async getHead(bucket: string, key: string): Promise<ObjectHead | undefined> {
    const bytes = await this.engine.get(headKey(bucket, key));
    return bytes ? decodeHead(bytes) : undefined;
  }

  async resolveParts(head: ObjectHead): Promise<ResolvedHead> {
    if (head.parts) return { ...head, parts: head.parts };
    const bytes = await this.engine.get(partListKey(head.versionId));
    if (!bytes) throw new Error(`part list of version ${head.versionId} is missing`);
    return { ...head, parts: decodePartList(bytes) };
  }

  /**
   * Returns the current version of an object, pinned against reclaim until `release()`.
   * Hazard: between reading a head and pinning it, an overwrite may commit and reclaim that version;
   * so the head is read again after pinning and the pin kept only if it is still current.
   */
  async openObject(bucket: string, key: string): Promise<PinnedObject | undefined> {
    for (;;) {
      const head = await this.getHead(bucket, key);
      if (!head) return undefined;
      this.#refs.pin(head.versionId);
      let again: ObjectHead | undefined;
      try {
        again = await this.getHead(bucket, key);
      } catch (err) {
        this.#refs.unpin(head.versionId);
        throw err;
      }
      if (again?.versionId !== head.versionId) {
        this.#refs.unpin(head.versionId);
        continue;
      }
      let resolved: ResolvedHead;
      try {
        resolved = await this.resolveParts(head);
      } catch (err) {
        this.#refs.unpin(head.versionId);
        throw err;
      }
      let released = false;
      return {
        head: resolved,
        read: (start, end) => readChunks(this.engine, resolved.parts, start, end),
        release: () => {
          if (released) return;
          released = true;
          this.#refs.unpin(head.versionId);
        },
      };
    }
  }

  // ---- objects: writes ----

  /** Starts a new version: records the intent so a crash mid-write is reclaimed on restart. */
  async beginWrite(bucket: string, key: string): Promise<PendingWrite> {
    await this.enterWriter(bucket);
    const versionId = newId();
    const intent: Intent = { bucket, key, dataIds: [versionId], replaces: [] };
    try {
      await this.engine.put(intentKey(versionId), encodeIntent(intent));
    } catch (err) {
      this.leaveWriter(bucket);
      throw err;
    }
    return new PendingWrite(this, versionId, intent);
  }

  /** @internal used by PendingWrite */
  async writeData(
    dataId: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<ChunkWriteResult> {
    return writeChunks(this.engine, dataId, body, { maxBytes });
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
  ): Promise<ObjectHead> {
    const { bucket, key } = intent;
    return this.#locks.run(headKey(bucket, key).toString('latin1'), async () => {
      const current = await this.getHead(bucket, key);
      check?.(current);
      let head: ObjectHead = { ...fields, versionId, parts };
      let encoded = encodeHead(head);
      if (encoded.length > this.#maxInlineHeadBytes) {
        await this.engine.put(partListKey(versionId), encodePartList(parts));
        head = { ...fields, versionId, partsRef: true };
        encoded = encodeHead(head);
      }
      const replaces = current ? this.#replacedBy(current) : [];
      // The intent written by beginWrite already says "replaces nothing": rewrite it only when the
      // commit makes another version dead (one durable write fewer for new keys).
      if (replaces.length > 0)
        await this.engine.put(intentKey(versionId), encodeIntent({ ...intent, replaces }));
      // The commit point.
      await this.engine.put(headKey(bucket, key), encoded);
      this.#afterCommit(versionId, current, replaces);
      await afterHeadPut?.();
      return head;
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
      await this.engine.put(
        intentKey(deleteId),
        encodeIntent({ bucket, key, dataIds: [], deletes: true, replaces }),
      );
      await this.engine.delete(headKey(bucket, key));
      this.#afterCommit(deleteId, current, replaces);
      return true;
    });
  }

  /** The data made dead by replacing `current`, plus what its own intent still has to reclaim. */
  #replacedBy(current: ObjectHead): DataRef[] {
    const own: DataRef = {
      versionId: current.versionId,
      dataIds: current.parts ? [...new Set(current.parts.map((p) => p.id))] : [],
      partsRef: current.partsRef === true,
    };
    const inherited = (this.#intentReplaces.get(current.versionId) ?? []).filter((r) =>
      this.#reclaims.has(r.versionId),
    );
    return [own, ...inherited];
  }

  #afterCommit(versionId: string, replaced: ObjectHead | undefined, replaces: DataRef[]): void {
    this.#intentReplaces.set(versionId, replaces);
    if (replaced) {
      const reclaim = new Promise<void>((resolve) => {
        this.#refs.whenUnread(replaced.versionId, () => {
          this.#track(this.#reclaimVersion(replaced)).finally(resolve);
        });
      });
      this.#reclaims.set(replaced.versionId, reclaim);
      reclaim.finally(() => this.#reclaims.delete(replaced.versionId));
    }
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

  async close(): Promise<void> {
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
  #done = false;

  constructor(store: ObjectStore, versionId: string, intent: Intent) {
    this.#store = store;
    this.versionId = versionId;
    this.#intent = intent;
  }

  async write(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<ChunkWriteResult> {
    assert(!this.#written && !this.#done, 'write once');
    this.#written = await this.#store.writeData(this.versionId, body, maxBytes);
    return this.#written;
  }

  async commit(fields: HeadFields, check?: CommitCheck): Promise<ObjectHead> {
    assert(this.#written && !this.#done, 'commit after write, once');
    assert.equal(fields.size, this.#written.bytes, 'head size matches written bytes');
    this.#done = true;
    try {
      return await this.#store.commit(
        this.versionId,
        this.#intent,
        fields,
        [{ id: this.versionId, bytes: this.#written.bytes }],
        check,
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

  async #discard(): Promise<void> {
    await this.#store.deleteData(this.versionId, this.#written?.bytes);
    await this.#store.engine.delete(intentKey(this.versionId));
  }
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
