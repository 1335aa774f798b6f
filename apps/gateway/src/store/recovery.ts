// Startup recovery: replays write intents left by a crash (kill -9) and reclaims the chunks they
// make dead. Invariant: after recovery no intent remains and no chunk is referenced by nothing,
// except chunks owned by other modules' own records (e.g. multipart uploads in progress).
// Many intents (a crash under heavy write load) take a while: progress is logged (see Progress).
import { DEFAULT_PROGRESS_LOG_INTERVAL_MS, Progress } from '@blobcache/engine';
import type { Logger } from '../observability/logger.ts';
import type { EnginePort } from './engine-port.ts';
import { type DataRef, decodeIntent } from './intent.ts';
import { INTENT_PREFIX, partListKey } from './layout.ts';
import { recoverUploadIntent } from './multipart-recovery.ts';
import { decodePartList } from './object-head.ts';
import type { ObjectStore } from './object-store.ts';

export type RecoveryReport = { intents: number; reclaimedVersions: number };

export async function recoverIntents(
  store: ObjectStore,
  engine: EnginePort,
  logger: Logger,
  progressLogIntervalMs: number = DEFAULT_PROGRESS_LOG_INTERVAL_MS,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { intents: 0, reclaimedVersions: 0 };
  // A keys-only pass for the total (an ETA needs it); after a clean stop there are none.
  let pending = 0;
  for await (const _ of engine.keys({ prefix: INTENT_PREFIX })) pending++;
  if (pending === 0) return report;
  const progress = new Progress(logger, {
    task: 'write-intent replay',
    unit: 'intents',
    totalItems: pending,
    intervalMs: progressLogIntervalMs,
  });
  const reporting = { logger, intervalMs: progressLogIntervalMs };
  for (;;) {
    const batch: Array<{ key: Buffer; value: Buffer | undefined }> = [];
    for await (const e of engine.keys({ prefix: INTENT_PREFIX, limit: 128, withValues: true })) {
      batch.push({ key: e.key, value: e.value });
    }
    if (batch.length === 0) {
      progress.finish(report);
      return report;
    }
    for (const { key, value } of batch) {
      const versionId = key.subarray(INTENT_PREFIX.length).toString('utf8');
      const bytes = value ?? (await engine.get(key));
      if (bytes) {
        let intent: ReturnType<typeof decodeIntent> | undefined;
        try {
          intent = decodeIntent(bytes);
        } catch (err) {
          logger.error({ err, versionId }, 'unreadable write intent dropped; its chunks, if any, stay');
        }
        if (intent?.upload) {
          report.reclaimedVersions += await recoverUploadIntent(
            store,
            versionId,
            intent,
            intent.upload,
            reporting,
          );
        } else if (intent) {
          const head = await store.getHead(intent.bucket, intent.key);
          const dead: DataRef[] = [];
          let own: DataRef | undefined;
          if (intent.deletes) {
            if (intent.replaces[0] && head?.versionId !== intent.replaces[0].versionId)
              dead.push(...intent.replaces);
          } else if (head?.versionId === versionId) {
            dead.push(...intent.replaces);
          } else {
            own = { versionId, dataIds: intent.dataIds, partsRef: true };
            dead.push(own);
          }
          for (const ref of dead) {
            // A replaced version was committed, so its part list (kept apart when large) names
            // exactly its data; an uncommitted version's own list may name data it never owned
            // (a failed multipart completion lists the upload's parts), so it is never expanded.
            const listed = ref !== own && ref.partsRef ? await partListIds(engine, ref.versionId) : [];
            for (const dataId of new Set([...ref.dataIds, ...listed])) await store.deleteData(dataId);
            if (ref.partsRef) await engine.delete(partListKey(ref.versionId));
            report.reclaimedVersions++;
          }
        }
      }
      await engine.delete(key);
      report.intents++;
      progress.advance();
    }
  }
}

/** The data ids named by a stored part list `l/<versionId>` (none if it is gone). */
async function partListIds(engine: EnginePort, versionId: string): Promise<string[]> {
  const bytes = await engine.get(partListKey(versionId));
  return bytes ? decodePartList(bytes).map((p) => p.id) : [];
}
