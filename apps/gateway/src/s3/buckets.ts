// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
// Get/PutBucketVersioning (versioning is never enabled: the answer is the empty configuration, or
// Suspended once a client set that).
import {
  checkAclHeaders,
  el,
  optEl,
  parseCreateBucketConfiguration,
  parseVersioningConfiguration,
  S3Error,
  validateBucketName,
  type XmlElement,
} from '@blobcache/s3-protocol';
import type { BucketContext, S3Context } from './context.ts';
import { uploadsOf } from './multipart-common.ts';
import { ownerElement } from './owner.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

const MAX_BUCKETS_PER_PAGE = 10_000;

async function listBuckets(ctx: S3Context): Promise<Response> {
  const prefix = ctx.target.query.get('prefix') ?? '';
  const maxText = ctx.target.query.get('max-buckets');
  let max = MAX_BUCKETS_PER_PAGE;
  if (maxText !== undefined) {
    max = Number(maxText);
    if (!/^\d+$/.test(maxText) || max < 1 || max > MAX_BUCKETS_PER_PAGE) {
      throw new S3Error('InvalidArgument', 'max-buckets must be an integer between 1 and 10000', {
        extra: { ArgumentName: 'max-buckets', ArgumentValue: maxText },
      });
    }
  }
  const token = ctx.target.query.get('continuation-token');
  const after = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
  const all = (await ctx.store.listBuckets()).filter(
    (b) => b.name.startsWith(prefix) && (after === undefined || b.name > after),
  );
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const last = page[page.length - 1];
  const children: XmlElement[] = page.map((b) =>
    el('Bucket', [
      el('Name', b.name),
      el('CreationDate', new Date(b.record.createdMs)),
      el('BucketRegion', b.record.region),
    ]),
  );
  return xmlResponse(
    el('ListAllMyBucketsResult', [
      ownerElement(ctx.auth.accessKeyId),
      el('Buckets', children),
      optEl(
        'ContinuationToken',
        truncated && last ? Buffer.from(last.name, 'utf8').toString('base64url') : undefined,
      ),
      optEl('Prefix', ctx.target.query.has('prefix') ? prefix : undefined),
    ]),
  );
}

async function createBucket(ctx: BucketContext): Promise<Response> {
  validateBucketName(ctx.bucket);
  // Creating the bucket without the lock the client asked for would fake a compliance feature.
  if (ctx.headers['x-amz-bucket-object-lock-enabled']?.trim().toLowerCase() === 'true') {
    throw new S3Error('NotImplemented', 'blobcache does not implement S3 Object Lock');
  }
  // Buckets are "bucket owner enforced" (ACLs disabled), S3's default: an owner-only ACL passes,
  // another is refused as S3 refuses it; asking for an ownership mode with ACLs is not implemented.
  checkAclHeaders(ctx.headers, 'bucket');
  const ownership = ctx.headers['x-amz-object-ownership'];
  if (ownership !== undefined && ownership.trim() !== 'BucketOwnerEnforced') {
    throw new S3Error('NotImplemented', `blobcache does not implement Object Ownership ${ownership.trim()}`);
  }
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES);
  const { locationConstraint } = parseCreateBucketConfiguration(body);
  if (locationConstraint !== undefined && locationConstraint !== ctx.config.region) {
    throw new S3Error(
      'IllegalLocationConstraintException',
      `The ${locationConstraint} location constraint is incompatible with the region of this endpoint (${ctx.config.region}).`,
    );
  }
  const created = await ctx.store.createBucket(ctx.bucket, ctx.config.region);
  if (!created)
    throw new S3Error('BucketAlreadyOwnedByYou', undefined, { extra: { BucketName: ctx.bucket } });
  return emptyResponse(200, { location: `/${ctx.bucket}` });
}

async function headBucket(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  return emptyResponse(200, { 'x-amz-bucket-region': record.region, 'x-amz-access-point-alias': 'false' });
}

async function deleteBucket(ctx: BucketContext): Promise<Response> {
  const outcome = await ctx.store.deleteBucket(ctx.bucket);
  if (outcome === 'missing')
    throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
  if (outcome === 'not-empty')
    throw new S3Error('BucketNotEmpty', undefined, { extra: { BucketName: ctx.bucket } });
  // As S3: uploads in progress do not keep a bucket alive; they go with it.
  await uploadsOf(ctx).abortAll(ctx.bucket, Date.now());
  return emptyResponse(204);
}

async function getBucketLocation(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  // S3 reports us-east-1 as an empty LocationConstraint.
  return xmlResponse(el('LocationConstraint', record.region === 'us-east-1' ? '' : record.region));
}

async function getBucketVersioning(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  return xmlResponse(el('VersioningConfiguration', [optEl('Status', record.versioning)]));
}

/**
 * Only Suspended can be set: every object already has exactly the `null` version, which is what
 * suspended versioning means for new writes. Enabling versioning (or MFA delete) is not built,
 * so it answers 501 instead of pretending older versions are kept.
 */
async function putBucketVersioning(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const config = parseVersioningConfiguration(await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES));
  if (config.status === 'Enabled' || config.mfaDelete === 'Enabled') {
    throw new S3Error(
      'NotImplemented',
      'blobcache does not implement object versioning: only Status Suspended can be set (every object has the null version)',
    );
  }
  await ctx.store.updateBucket(ctx.bucket, (record) => ({ ...record, versioning: 'Suspended' }));
  return emptyResponse(200);
}

export const bucketRoutes: S3Route[] = [
  { operation: 'ListBuckets', method: 'GET', level: 'service', handle: listBuckets },
  { operation: 'CreateBucket', method: 'PUT', level: 'bucket', handle: createBucket },
  { operation: 'HeadBucket', method: 'HEAD', level: 'bucket', handle: headBucket },
  { operation: 'DeleteBucket', method: 'DELETE', level: 'bucket', handle: deleteBucket },
  {
    operation: 'GetBucketLocation',
    method: 'GET',
    level: 'bucket',
    param: 'location',
    handle: getBucketLocation,
  },
  {
    operation: 'GetBucketVersioning',
    method: 'GET',
    level: 'bucket',
    param: 'versioning',
    handle: getBucketVersioning,
  },
  {
    operation: 'PutBucketVersioning',
    method: 'PUT',
    level: 'bucket',
    param: 'versioning',
    handle: putBucketVersioning,
  },
];
