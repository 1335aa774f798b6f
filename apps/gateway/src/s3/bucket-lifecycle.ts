// Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycle(Configuration). The document is
// validated when it is put (s3-protocol parseLifecycleConfiguration: transitions to archive
// classes answer 501), kept as put, and carried out by the lifecycle sweeper
// (store/lifecycle-sweep.ts), which is nudged so that a rule already due acts at once.
import {
  expiresAtMs,
  formatHttpDate,
  lifecycleFilterMatches,
  parseLifecycleConfiguration,
  S3Error,
} from '@blobcache/s3-protocol';
import { lifecycleRulesOf } from '../store/lifecycle-sweep.ts';
import type { BucketRecord, ObjectHead } from '../store/object-head.ts';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { clearBucketSetting, requireBucket, setBucketSettings } from './require-bucket.ts';
import { emptyResponse, xmlTextResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/**
 * S3's `x-amz-expiration` for an object (GET, HEAD, PUT answers): when the earliest expiration
 * rule selecting it falls due, and that rule's ID (URL-encoded, as S3 sends it); undefined when
 * no rule expires it.
 */
export function expirationHeader(
  record: BucketRecord | undefined,
  key: string,
  head: Pick<ObjectHead, 'size' | 'tags' | 'lastModifiedMs'>,
): string | undefined {
  if (record?.lifecycle === undefined) return undefined;
  let earliest: { atMs: number; id: string } | undefined;
  for (const rule of lifecycleRulesOf(record)) {
    if (!lifecycleFilterMatches(rule.filter, key, head.size, head.tags)) continue;
    const atMs = expiresAtMs(rule, head.lastModifiedMs);
    if (atMs !== undefined && (earliest === undefined || atMs < earliest.atMs))
      earliest = { atMs, id: rule.id ?? '' };
  }
  if (earliest === undefined) return undefined;
  return `expiry-date="${formatHttpDate(new Date(earliest.atMs))}", rule-id="${encodeURIComponent(earliest.id)}"`;
}

async function getLifecycle(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (record.lifecycle === undefined)
    throw new S3Error('NoSuchLifecycleConfiguration', undefined, { extra: { BucketName: ctx.bucket } });
  return xmlTextResponse(record.lifecycle);
}

async function putLifecycle(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true });
  parseLifecycleConfiguration(body);
  const lifecycle = body.toString('utf8');
  await setBucketSettings(ctx, { lifecycle });
  ctx.lifecycle?.nudge();
  return emptyResponse(200);
}

async function deleteLifecycle(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'lifecycle');
  return emptyResponse(204);
}

export const bucketLifecycleRoutes: S3Route[] = [
  {
    operation: 'GetBucketLifecycleConfiguration',
    method: 'GET',
    level: 'bucket',
    param: 'lifecycle',
    handle: getLifecycle,
  },
  {
    operation: 'PutBucketLifecycleConfiguration',
    method: 'PUT',
    level: 'bucket',
    param: 'lifecycle',
    handle: putLifecycle,
  },
  {
    operation: 'DeleteBucketLifecycle',
    method: 'DELETE',
    level: 'bucket',
    param: 'lifecycle',
    handle: deleteLifecycle,
  },
];
