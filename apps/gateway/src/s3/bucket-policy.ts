// Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus. The document is validated
// when it is put (s3-protocol parseBucketPolicy: MalformedPolicy, or NotImplemented for policy
// language blobcache does not evaluate), kept verbatim in the bucket record, and enforced on every
// request by authorize.ts: anonymous requests get what it allows, everyone loses what it denies.
import { el, parseBucketPolicy, policyIsPublic, S3Error } from '@blobcache/s3-protocol';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { clearBucketSetting, requireBucket, setBucketSettings } from './require-bucket.ts';
import { emptyResponse, plainResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

function noPolicy(ctx: BucketContext): S3Error {
  return new S3Error('NoSuchBucketPolicy', undefined, { extra: { BucketName: ctx.bucket } });
}

async function putBucketPolicy(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  // Read up to the generic limit, so a document over S3's 20 KB is MalformedPolicy (as S3
  // answers), not the generic body-size error.
  const text = (await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES)).toString('utf8');
  const policy = parseBucketPolicy(text, ctx.bucket);
  if (record.publicAccessBlock?.blockPublicPolicy && policyIsPublic(policy)) {
    throw new S3Error(
      'AccessDenied',
      `public policies are blocked by the BlockPublicPolicy setting of bucket ${ctx.bucket}`,
    );
  }
  await setBucketSettings(ctx, { policy: text });
  return emptyResponse(204);
}

async function getBucketPolicy(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (record.policy === undefined) throw noPolicy(ctx);
  return plainResponse(
    200,
    { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(record.policy)) },
    record.policy,
  );
}

async function deleteBucketPolicy(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'policy');
  return emptyResponse(204);
}

async function getBucketPolicyStatus(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (record.policy === undefined) throw noPolicy(ctx);
  const isPublic = policyIsPublic(parseBucketPolicy(record.policy, ctx.bucket));
  return xmlResponse(el('PolicyStatus', [el('IsPublic', String(isPublic))]));
}

export const bucketPolicyRoutes: S3Route[] = [
  { operation: 'PutBucketPolicy', method: 'PUT', level: 'bucket', param: 'policy', handle: putBucketPolicy },
  { operation: 'GetBucketPolicy', method: 'GET', level: 'bucket', param: 'policy', handle: getBucketPolicy },
  {
    operation: 'DeleteBucketPolicy',
    method: 'DELETE',
    level: 'bucket',
    param: 'policy',
    handle: deleteBucketPolicy,
  },
  {
    operation: 'GetBucketPolicyStatus',
    method: 'GET',
    level: 'bucket',
    param: 'policyStatus',
    handle: getBucketPolicyStatus,
  },
];
