// DeleteObject and DeleteObjects. Deleting a missing key succeeds (204 / <Deleted>), as in S3.
// Conditional deletes (If-Match, x-amz-if-match-last-modified-time, x-amz-if-match-size; a
// DeleteObjects entry's ETag, LastModifiedTime, Size) are judged under the key's lock, so a
// version written meanwhile is never deleted on the strength of the old one's ETag.
// DeleteObjects requires an integrity header (Content-MD5 or an x-amz-checksum-*), which is
// verified against the body before anything is deleted.
import {
  deleteEntryConditions,
  el,
  evaluateDeleteConditionals,
  MAX_DELETE_KEYS,
  parseDeleteConditions,
  parseDeleteObjects,
  S3Error,
  toS3Error,
  validateObjectKey,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { CommitCheck } from '../store/object-store.ts';
import type { BucketContext, Headers, ObjectContext } from './context.ts';
import { objectVersion } from './object-headers.ts';
import { readVerifiedSmallBody } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** 1000 keys of up to 1 KiB each, XML-escaped, fit comfortably. */
export const MAX_DELETE_BODY_BYTES = 4 * 1024 * 1024;

function checkVersionId(versionId: string | undefined, key: string): void {
  if (versionId !== undefined && versionId !== 'null') {
    throw new S3Error('NoSuchVersion', undefined, { extra: { Key: key, VersionId: versionId } });
  }
}

/** The delete's conditions, judged under the key lock against the version being deleted. */
function deleteCheck(conditions: Headers, key: string): CommitCheck | undefined {
  // Malformed values are refused here, before the key lock.
  if (Object.keys(parseDeleteConditions(conditions)).length === 0) return undefined;
  return (current) =>
    evaluateDeleteConditionals(conditions, current && { ...objectVersion(current), size: current.size }, key);
}

async function deleteObject(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  await requireBucket(ctx);
  const versionId = ctx.target.query.get('versionId');
  checkVersionId(versionId, ctx.key);
  await ctx.store.deleteObject(ctx.bucket, ctx.key, deleteCheck(ctx.headers, ctx.key));
  return emptyResponse(204, versionId === undefined ? {} : { 'x-amz-version-id': versionId });
}

async function deleteObjects(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const body = await readVerifiedSmallBody(ctx, MAX_DELETE_BODY_BYTES, { requireIntegrityHeader: true });
  const request = parseDeleteObjects(body);
  if (request.objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML');
  const results: XmlChild[] = [];
  for (const o of request.objects) {
    try {
      validateObjectKey(o.key);
      checkVersionId(o.versionId, o.key);
      ctx.authorizeObject?.('s3:DeleteObject', o.key);
      await ctx.store.deleteObject(ctx.bucket, o.key, deleteCheck(deleteEntryConditions(o), o.key));
      if (!request.quiet) {
        results.push(
          el('Deleted', [
            el('Key', o.key),
            o.versionId === undefined ? undefined : el('VersionId', o.versionId),
          ]),
        );
      }
    } catch (err) {
      const e = toS3Error(err);
      if (e.code === 'InternalError') ctx.logger.error({ err, key: o.key }, 'DeleteObjects entry failed');
      results.push(
        el('Error', [
          el('Key', o.key),
          o.versionId === undefined ? undefined : el('VersionId', o.versionId),
          el('Code', e.code),
          el('Message', e.message),
        ]),
      );
    }
  }
  return xmlResponse(el('DeleteResult', results));
}

export const deleteObjectRoutes: S3Route[] = [
  { operation: 'DeleteObject', method: 'DELETE', level: 'object', handle: deleteObject },
  { operation: 'DeleteObjects', method: 'POST', level: 'bucket', param: 'delete', handle: deleteObjects },
];
