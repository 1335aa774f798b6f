// Multipart uploads over the object store: upload records, parts, completion and abort.
// Invariants:
// - A part's data is written under a fresh data id, then its part record is put (the commit point
//   of the part); the data of a part it replaced is deleted right after. An intent (`g/<dataId>`,
//   kind `part`) covers the whole write, so a crash leaves nothing recovery cannot reclaim.
// - Every step that reads or changes an upload's part records runs under that upload's lock: part
//   commits hold it shared (plus a per-part-number lock, so two uploads of one part number commit
//   one after the other), CompleteMultipartUpload and AbortMultipartUpload exclusive. So a completion
//   never references data that a concurrent part re-upload is deleting, and many parts of one
//   upload still commit concurrently (their durable writes share syncs). Part data is never read
//   before completion, so no reader pins are needed here; once completed, the object's version pin
//   (ObjectStore.openObject) protects it like any other object.
// - Completion never copies: the new head lists the parts' data ids. The upload record is deleted
//   under the key lock right after the head put (see multipart-recovery.ts for why).
import type { Logger } from '../observability/logger.ts';
import { encodeIntent, type Intent } from './intent.ts';
import { KeyLock } from './key-lock.ts';
import { intentKey, newId, partListKey } from './layout.ts';
import {
  decodePart,
  decodeUpload,
  encodePart,
  encodeUpload,
  isUploadId,
  newUploadId,
  type PartRecord,
  partKey,
  partNumberOfKey,
  partPrefix,
  type UploadRecord,
  uploadKey,
  uploadPrefix,
} from './multipart-records.ts';
import { dropParts } from './multipart-recovery.ts';
import type { ChecksumAlgorithm, DataPart, ObjectHead } from './object-head.ts';
import type { CommitCheck, HeadFields, ObjectStore } from './object-store.ts';
import { SharedLock } from './shared-lock.ts';

type UploadLocks = { uploads: SharedLock; parts: KeyLock };

export type StoredPart = { partNumber: number; record: PartRecord };

/** The upload does not exist (never created, completed, aborted, or another key's). */
export class NoSuchUploadError extends Error {
  override name = 'NoSuchUploadError';
  readonly uploadId: string;
  constructor(uploadId: string) {
    super(`upload ${uploadId} does not exist`);
    this.uploadId = uploadId;
  }
}

/** A part named in CompleteMultipartUpload is missing or its ETag differs. */
export class InvalidPartError extends Error {
  override name = 'InvalidPartError';
  readonly partNumber: number;
  constructor(partNumber: number, why: string) {
    super(`part ${partNumber}: ${why}`);
    this.partNumber = partNumber;
  }
}

/** What CompleteMultipartUpload asks for: part numbers (ascending) with the ETags the client saw. */
export type RequestedPart = { partNumber: number; etag: string };

const stores = new WeakMap<ObjectStore, UploadStore>();

export class UploadStore {
  readonly #store: ObjectStore;
  readonly #logger: Logger | undefined;
  readonly #locks: UploadLocks = { uploads: new SharedLock(), parts: new KeyLock() };

  constructor(store: ObjectStore, logger?: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** The one UploadStore of an ObjectStore (the upload locks must be shared by all requests). */
  static of(store: ObjectStore): UploadStore {
    let uploads = stores.get(store);
    if (!uploads) {
      uploads = new UploadStore(store);
      stores.set(store, uploads);
    }
    return uploads;
  }

  async create(bucket: string, record: Omit<UploadRecord, 'initiatedMs'>): Promise<string> {
    await this.#store.enterWriter(bucket);
    try {
      const initiatedMs = Date.now();
      const uploadId = newUploadId(initiatedMs);
      await this.#store.engine.put(uploadKey(bucket, uploadId), encodeUpload({ ...record, initiatedMs }));
      return uploadId;
    } finally {
      this.#store.leaveWriter(bucket);
    }
  }

  /** The upload, if it exists and belongs to `key`. */
  async get(bucket: string, uploadId: string, key: string): Promise<UploadRecord | undefined> {
    if (!isUploadId(uploadId)) return undefined;
    const bytes = await this.#store.engine.get(uploadKey(bucket, uploadId));
    if (!bytes) return undefined;
    const record = decodeUpload(bytes);
    if (record.key !== key) return undefined;
    const created = (await this.#store.getBucket(bucket))?.createdMs;
    return created !== undefined && record.initiatedMs >= created ? record : undefined;
  }

  async require(bucket: string, uploadId: string, key: string): Promise<UploadRecord> {
    const record = await this.get(bucket, uploadId, key);
    if (!record) throw new NoSuchUploadError(uploadId);
    return record;
  }

  async getPart(uploadId: string, partNumber: number): Promise<PartRecord | undefined> {
    const bytes = await this.#store.engine.get(partKey(uploadId, partNumber));
    return bytes ? decodePart(bytes) : undefined;
  }

  /** Up to `limit` parts after `afterPartNumber`, in part-number order, and whether more follow. */
  async listParts(
    uploadId: string,
    afterPartNumber: number,
    limit: number,
  ): Promise<{ parts: StoredPart[]; truncated: boolean }> {
    const parts: StoredPart[] = [];
    let truncated = false;
    if (limit === 0) return { parts, truncated };
    const scan = {
      prefix: partPrefix(uploadId),
      limit: limit + 1,
      withValues: true,
      ...(afterPartNumber > 0 ? { startAfter: partKey(uploadId, afterPartNumber) } : {}),
    };
    for await (const e of this.#store.engine.keys(scan)) {
      if (parts.length === limit) {
        truncated = true;
        break;
      }
      const value = e.value ?? (await this.#store.engine.get(e.key));
      if (value) parts.push({ partNumber: partNumberOfKey(e.key, uploadId), record: decodePart(value) });
    }
    return { parts, truncated };
  }

  /** Every upload of a bucket, in upload-id order (initiation time), a page of records at a time. */
  async *uploads(bucket: string): AsyncGenerator<{ uploadId: string; record: UploadRecord }> {
    const created = (await this.#store.getBucket(bucket))?.createdMs;
    if (created === undefined) return;
    for await (const u of this.#records(bucket)) if (u.record.initiatedMs >= created) yield u;
  }

  /**
   * Every upload record under the bucket name, including stale ones: records left by a bucket that
   * was deleted (and maybe created again) while a crash interrupted abortAll. Those are never
   * served (get/uploads compare with the bucket's creation time) and are dropped by the next
   * abortAll of that name.
   */
  async *#records(bucket: string): AsyncGenerator<{ uploadId: string; record: UploadRecord }> {
    const prefix = uploadPrefix(bucket);
    let after: Buffer | undefined;
    for (;;) {
      let seen = 0;
      const scan = { prefix, limit: 256, withValues: true, ...(after ? { startAfter: after } : {}) };
      for await (const e of this.#store.engine.keys(scan)) {
        seen++;
        after = e.key;
        const value = e.value ?? (await this.#store.engine.get(e.key));
        if (!value) continue;
        yield { uploadId: e.key.subarray(prefix.length).toString('utf8'), record: decodeUpload(value) };
      }
      if (seen < 256) return;
    }
  }

  /** Starts writing one part: an intent first, so a crash mid-write is reclaimed on restart. */
  async beginPart(bucket: string, key: string, uploadId: string, partNumber: number): Promise<PendingPart> {
    const upload = await this.require(bucket, uploadId, key);
    await this.#store.enterWriter(bucket);
    const dataId = newId();
    const intent: Intent = {
      bucket,
      key,
      dataIds: [dataId],
      replaces: [],
      upload: { uploadId, op: 'part', partNumber },
    };
    try {
      await this.#store.engine.put(intentKey(dataId), encodeIntent(intent));
    } catch (err) {
      this.#store.leaveWriter(bucket);
      throw err;
    }
    // Parts of an SSE-S3 upload are encrypted at rest, each under its own data id (sse.ts).
    const sse = upload.sse !== undefined;
    return new PendingPart(this.#store, this.#locks, {
      bucket,
      key,
      uploadId,
      partNumber,
      dataId,
      intent,
      sse,
    });
  }

  /** Aborts an upload: the record goes first (the commit point), then every part and its data. */
  abort(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.#locks.uploads.exclusive(uploadId, async () => {
      await this.require(bucket, uploadId, key);
      await this.#drop(bucket, key, uploadId);
    });
  }

  /**
   * Aborts every upload of a deleted bucket initiated at or before `beforeMs` (S3 deletes a bucket
   * with uploads in progress and drops them; a bucket of the same name created since keeps its own).
   */
  async abortAll(bucket: string, beforeMs: number): Promise<number> {
    const doomed: Array<{ uploadId: string; key: string }> = [];
    for await (const u of this.#records(bucket)) {
      if (u.record.initiatedMs <= beforeMs) doomed.push({ uploadId: u.uploadId, key: u.record.key });
    }
    for (const { uploadId, key } of doomed) {
      await this.#locks.uploads.exclusive(uploadId, async () => {
        if (await this.#store.engine.get(uploadKey(bucket, uploadId)))
          await this.#drop(bucket, key, uploadId);
      });
    }
    return doomed.length;
  }

  /** Under the upload's exclusive lock: the record goes first (the commit point), then the parts. */
  async #drop(bucket: string, key: string, uploadId: string): Promise<void> {
    const engine = this.#store.engine;
    const id = newId();
    await engine.put(
      intentKey(id),
      encodeIntent({ bucket, key, dataIds: [], replaces: [], upload: { uploadId, op: 'abort' } }),
    );
    await engine.delete(uploadKey(bucket, uploadId));
    await dropParts(this.#store, uploadId, new Set());
    await engine.delete(intentKey(id));
  }

  /**
   * Completes an upload: checks the requested parts against the stored ones, lets `build` derive
   * the head (ETag, checksums, size rules; it throws to refuse), commits it with `check`, then drops
   * the upload's part records and the data of parts not used.
   */
  complete(opts: {
    bucket: string;
    key: string;
    uploadId: string;
    requested: readonly RequestedPart[];
    build: (upload: UploadRecord, parts: readonly StoredPart[]) => HeadFields;
    /** Which part checksum each data part keeps in the head (absent/undefined: none). */
    partChecksum?: (upload: UploadRecord, partCount: number) => ChecksumAlgorithm | undefined;
    check: CommitCheck | undefined;
  }): Promise<ObjectHead> {
    const { bucket, key, uploadId } = opts;
    return this.#locks.uploads.exclusive(uploadId, async () => {
      const upload = await this.require(bucket, uploadId, key);
      const chosen = await this.#matchParts(uploadId, opts.requested);
      const fields = opts.build(upload, chosen);
      const keep = opts.partChecksum?.(upload, chosen.length);
      const dataParts: DataPart[] = chosen.map((p) => {
        const part: DataPart = { id: p.record.dataId, bytes: p.record.bytes };
        const checksum = keep === undefined ? undefined : p.record.checksums[keep];
        if (keep !== undefined && checksum === undefined)
          throw new Error(`part ${p.partNumber} has no stored ${keep}`);
        if (checksum !== undefined) part.checksum = checksum;
        return part;
      });
      const engine = this.#store.engine;
      await this.#store.enterWriter(bucket);
      const versionId = newId();
      const cleanupId = newId();
      const commitIntent: Intent = { bucket, key, dataIds: [], replaces: [] };
      try {
        await Promise.all([
          engine.put(
            intentKey(cleanupId),
            encodeIntent({
              bucket,
              key,
              dataIds: [],
              replaces: [],
              upload: { uploadId, op: 'complete', versionId },
            }),
          ),
          engine.put(intentKey(versionId), encodeIntent(commitIntent)),
        ]);
        let head: ObjectHead;
        try {
          head = await this.#store.commit(
            versionId,
            commitIntent,
            fields,
            dataParts,
            opts.check,
            async () => {
              try {
                await engine.delete(uploadKey(bucket, uploadId));
              } catch (err) {
                // The cleanup intent finishes this on restart (the head is this version).
                this.#logger?.error({ err, uploadId }, 'could not drop a completed upload record');
              }
            },
          );
        } catch (err) {
          await engine.delete(partListKey(versionId));
          await engine.delete(intentKey(versionId));
          await engine.delete(intentKey(cleanupId));
          throw err;
        }
        await dropParts(this.#store, uploadId, new Set(dataParts.map((p) => p.id)));
        await engine.delete(intentKey(cleanupId));
        return head;
      } finally {
        this.#store.leaveWriter(bucket);
      }
    });
  }

  /** The stored parts named by `requested` (ascending), walking the part records once in order. */
  async #matchParts(uploadId: string, requested: readonly RequestedPart[]): Promise<StoredPart[]> {
    const out: StoredPart[] = [];
    let i = 0;
    let after = 0;
    while (i < requested.length) {
      const page = await this.listParts(uploadId, after, 1000);
      for (const stored of page.parts) {
        const skipped = requested[i];
        if (skipped && skipped.partNumber < stored.partNumber)
          throw new InvalidPartError(skipped.partNumber, 'not uploaded');
        const want = requested[i];
        if (want && want.partNumber === stored.partNumber) {
          if (want.etag.toLowerCase() !== stored.record.etag)
            throw new InvalidPartError(want.partNumber, 'ETag does not match');
          out.push(stored);
          i++;
        }
        after = stored.partNumber;
      }
      if (!page.truncated) break;
    }
    if (i < requested.length)
      throw new InvalidPartError((requested[i] as RequestedPart).partNumber, 'not uploaded');
    return out;
  }
}

/** One part being written: `write` the body, then `commit` (or `abort`). */
export class PendingPart {
  readonly dataId: string;
  readonly #store: ObjectStore;
  readonly #locks: UploadLocks;
  readonly #target: {
    bucket: string;
    key: string;
    uploadId: string;
    partNumber: number;
    intent: Intent;
    sse: boolean;
  };
  #bytes: number | undefined;
  #done = false;

  constructor(
    store: ObjectStore,
    locks: UploadLocks,
    target: {
      bucket: string;
      key: string;
      uploadId: string;
      partNumber: number;
      dataId: string;
      intent: Intent;
      sse: boolean;
    },
  ) {
    this.#store = store;
    this.#locks = locks;
    this.dataId = target.dataId;
    this.#target = target;
  }

  async write(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<number> {
    const written = await this.#store.writeData(this.dataId, body, maxBytes, this.#target.sse);
    this.#bytes = written.bytes;
    return written.bytes;
  }

  /** Makes this the upload's part `partNumber`, replacing (and reclaiming) any earlier one. */
  async commit(fields: Omit<PartRecord, 'dataId' | 'bytes'>): Promise<PartRecord> {
    const bytes = this.#bytes;
    if (bytes === undefined || this.#done) throw new Error('commit a part once, after write');
    this.#done = true;
    const { bucket, key, uploadId, partNumber, intent } = this.#target;
    const engine = this.#store.engine;
    let committed = false;
    try {
      const commitPart = async (): Promise<PartRecord> => {
        if (!(await UploadStore.of(this.#store).get(bucket, uploadId, key)))
          throw new NoSuchUploadError(uploadId);
        const oldBytes = await engine.get(partKey(uploadId, partNumber));
        const old = oldBytes ? decodePart(oldBytes) : undefined;
        if (old) {
          const replaces = [{ versionId: old.dataId, dataIds: [old.dataId] }];
          await engine.put(intentKey(this.dataId), encodeIntent({ ...intent, replaces }));
        }
        const record: PartRecord = { ...fields, dataId: this.dataId, bytes };
        // The commit point of the part.
        await engine.put(partKey(uploadId, partNumber), encodePart(record));
        committed = true;
        if (old) await this.#store.deleteData(old.dataId, old.bytes);
        await engine.delete(intentKey(this.dataId));
        return record;
      };
      return await this.#locks.uploads.shared(uploadId, () =>
        this.#locks.parts.run(`${uploadId}/${partNumber}`, commitPart),
      );
    } catch (err) {
      // After the record put the data is the part's: the intent (still present) lets recovery
      // finish reclaiming the replaced data.
      if (!committed) await this.#discard();
      throw err;
    } finally {
      this.#store.leaveWriter(bucket);
    }
  }

  /** Drops the data written so far; safe after a failed write. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#discard();
    } finally {
      this.#store.leaveWriter(this.#target.bucket);
    }
  }

  async #discard(): Promise<void> {
    await this.#store.deleteData(this.dataId, this.#bytes);
    await this.#store.engine.delete(intentKey(this.dataId));
  }
}
