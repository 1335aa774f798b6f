// Crash recovery for multipart work, called by recovery.ts for intents carrying `upload`.
// Invariant: after this runs for an intent, every part record points at complete data, and no data
// is left that neither a part record nor an object head references.
// The rules, by intent kind (see multipart-store.ts for the write order that makes them hold):
// - part: the part record `p/<uploadId>/<n>` is the commit point. If it points at this intent's
//   data, the data it replaced is dead; otherwise this intent's own data is.
// - complete: the upload record is deleted under the key lock right after the head put. So if the
//   head is the completed version, the upload finished: drop its part records and the data of parts
//   the object does not use. If the upload record still exists, the completion never committed:
//   nothing to do (the commit intent reclaims its part list). If the record is gone but the head is
//   another version, the object was completed and then overwritten: all part data is dead (the
//   overwrite's intent reclaims the same ids; deleting twice is harmless, ids are never reused).
// - abort: finish the abort (the client was not answered, either outcome is allowed).
import { Progress } from '@blobcache/engine';
import type { Logger } from '../observability/logger.ts';
import type { DataRef, Intent } from './intent.ts';
import { decodePart, partKey, partPrefix, uploadKey } from './multipart-records.ts';
import type { ObjectStore } from './object-store.ts';

type UploadIntent = NonNullable<Intent['upload']>;

/** Where a long part cleanup (an upload of thousands of parts) logs its progress. */
export type ProgressReporting = { logger: Logger; intervalMs: number };

/** Returns the number of data ids reclaimed. */
export async function recoverUploadIntent(
  store: ObjectStore,
  intentId: string,
  intent: Intent,
  upload: UploadIntent,
  reporting?: ProgressReporting,
): Promise<number> {
  const engine = store.engine;
  if (upload.op === 'part') {
    if (upload.partNumber === undefined) return 0;
    const bytes = await engine.get(partKey(upload.uploadId, upload.partNumber));
    const current = bytes ? decodePart(bytes) : undefined;
    const dead: DataRef[] =
      current?.dataId === intentId ? intent.replaces : [{ versionId: intentId, dataIds: intent.dataIds }];
    for (const ref of dead) for (const id of ref.dataIds) await store.deleteData(id);
    return dead.length;
  }
  if (upload.op === 'complete') {
    const head = await store.getHead(intent.bucket, intent.key);
    if (head && head.versionId === upload.versionId) {
      const used = new Set((await store.resolveParts(head)).parts.map((p) => p.id));
      await engine.delete(uploadKey(intent.bucket, upload.uploadId));
      return dropParts(store, upload.uploadId, used, reporting);
    }
    if (await engine.get(uploadKey(intent.bucket, upload.uploadId))) return 0;
    return dropParts(store, upload.uploadId, new Set(), reporting);
  }
  await engine.delete(uploadKey(intent.bucket, upload.uploadId));
  return dropParts(store, upload.uploadId, new Set(), reporting);
}

/**
 * Deletes every part record of an upload, and the data of each part whose data id is not in `keep`.
 * Records go after their data, so a crash midway leaves records to retry from, never dangling data.
 */
export async function dropParts(
  store: ObjectStore,
  uploadId: string,
  keep: ReadonlySet<string>,
  reporting?: ProgressReporting,
): Promise<number> {
  const engine = store.engine;
  let reclaimed = 0;
  let progress: Progress | undefined;
  if (reporting) {
    let total = 0;
    for await (const _ of engine.keys({ prefix: partPrefix(uploadId) })) total++;
    progress = new Progress(reporting.logger, {
      task: 'multipart part cleanup',
      unit: 'parts',
      totalItems: total,
      intervalMs: reporting.intervalMs,
    });
  }
  for (;;) {
    const batch: Array<{ key: Buffer; dataId: string; bytes: number }> = [];
    for await (const e of engine.keys({ prefix: partPrefix(uploadId), limit: 64, withValues: true })) {
      const value = e.value ?? (await engine.get(e.key));
      if (!value) continue;
      const part = decodePart(value);
      batch.push({ key: e.key, dataId: part.dataId, bytes: part.bytes });
    }
    if (batch.length === 0) {
      progress?.finish({ uploadId, reclaimed });
      return reclaimed;
    }
    await Promise.all(
      batch.map(async (p) => {
        if (!keep.has(p.dataId)) {
          await store.deleteData(p.dataId, p.bytes);
          reclaimed++;
        }
        await engine.delete(p.key);
        progress?.advance(1, p.bytes);
      }),
    );
  }
}
