// Object and bucket tagging (buckets: Get/Put/DeleteBucketTagging, at most 50 tags, kept in the
// bucket record). Objects: tags set with `x-amz-tagging` on PutObject, CopyObject (with
// `x-amz-tagging-directive`) and CreateMultipartUpload, read and replaced with Get/Put/
// DeleteObjectTagging, counted on GetObject (`x-amz-tagging-count`). Invariant: tags live in the
// object's head and change only with it or through ObjectStore.replaceTags, which keeps the
// version, ETag and Last-Modified (S3 does not treat a tag change as a new object).
import {
  el,
  parseTagging,
  parseTaggingHeader,
  S3Error,
  type Tag,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import type { BucketContext, ObjectContext } from './context.ts';
import { checkVersionId } from './object-body.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import {
  clearBucketSetting,
  noSuchKey,
  requireBucket,
  requireHead,
  setBucketSettings,
} from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

type Headers = Readonly<Record<string, string | undefined>>;

/** The tags a write asks for with `x-amz-tagging`, as head fields (nothing when none). */
export function requestedTags(headers: Headers): { tags?: Tag[] } {
  const value = headers['x-amz-tagging'];
  if (value === undefined) return {};
  const tags = parseTaggingHeader(value);
  return tags.length > 0 ? { tags } : {};
}

/** CopyObject's `x-amz-tagging-directive` (COPY when absent). */
export function taggingDirective(headers: Headers): 'COPY' | 'REPLACE' {
  const directive = headers['x-amz-tagging-directive'] ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown tagging directive.', {
      extra: { ArgumentName: 'x-amz-tagging-directive', ArgumentValue: directive },
    });
  }
  return directive;
}

/** CopyObject: the source's tags (COPY, the default) or the request's (REPLACE). */
export function copiedTags(headers: Headers, source: ObjectHead): { tags?: Tag[] } {
  if (taggingDirective(headers) === 'REPLACE') return requestedTags(headers);
  return source.tags && source.tags.length > 0 ? { tags: source.tags } : {};
}

/** GetObject's `x-amz-tagging-count`, only when the object has tags (as S3). */
export function taggingCountHeader(head: ObjectHead, out: Record<string, string>): void {
  if (head.tags && head.tags.length > 0) out['x-amz-tagging-count'] = String(head.tags.length);
}

async function getObjectTagging(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  return taggingDocument((await requireHead(ctx)).tags ?? []);
}

async function putObjectTagging(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  // S3 requires Content-MD5 or a flexible checksum on this request (the SDKs send one).
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true });
  const tags = parseTagging(body);
  if (!(await ctx.store.replaceTags(ctx.bucket, ctx.key, tags))) throw await noSuchKey(ctx);
  return emptyResponse(200, {});
}

async function deleteObjectTagging(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  if (!(await ctx.store.replaceTags(ctx.bucket, ctx.key, undefined))) throw await noSuchKey(ctx);
  return emptyResponse(204, {});
}

/** S3 allows 50 tags on a bucket (10 on an object). */
const MAX_BUCKET_TAGS = 50;

function taggingDocument(tags: readonly Tag[]): Response {
  return xmlResponse(
    el('Tagging', [
      el(
        'TagSet',
        tags.map((t) => el('Tag', [el('Key', t.key), el('Value', t.value)])),
      ),
    ]),
  );
}

async function getBucketTagging(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (!record.tags || record.tags.length === 0)
    throw new S3Error('NoSuchTagSet', undefined, { extra: { BucketName: ctx.bucket } });
  return taggingDocument(record.tags);
}

async function putBucketTagging(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true });
  const tags = parseTagging(body, { maxTags: MAX_BUCKET_TAGS });
  await setBucketSettings(ctx, { tags });
  return emptyResponse(204, {});
}

async function deleteBucketTagging(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'tags');
  return emptyResponse(204, {});
}

export const taggingRoutes: S3Route[] = [
  {
    operation: 'GetBucketTagging',
    method: 'GET',
    level: 'bucket',
    param: 'tagging',
    handle: getBucketTagging,
  },
  {
    operation: 'PutBucketTagging',
    method: 'PUT',
    level: 'bucket',
    param: 'tagging',
    handle: putBucketTagging,
  },
  {
    operation: 'DeleteBucketTagging',
    method: 'DELETE',
    level: 'bucket',
    param: 'tagging',
    handle: deleteBucketTagging,
  },
  {
    operation: 'GetObjectTagging',
    method: 'GET',
    level: 'object',
    param: 'tagging',
    handle: getObjectTagging,
  },
  {
    operation: 'PutObjectTagging',
    method: 'PUT',
    level: 'object',
    param: 'tagging',
    handle: putObjectTagging,
  },
  {
    operation: 'DeleteObjectTagging',
    method: 'DELETE',
    level: 'object',
    param: 'tagging',
    handle: deleteObjectTagging,
  },
];
