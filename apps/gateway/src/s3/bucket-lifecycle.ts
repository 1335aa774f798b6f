// Bucket lifecycle configuration: Put/Get/DeleteBucketLifecycle(Configuration). The document is
// validated when it is put (s3-protocol parseLifecycleConfiguration: transitions answer 501, the
// gateway has one storage class), kept as put, and carried out by the lifecycle sweeper
// (store/lifecycle-sweep.ts), which is nudged so that a rule already due acts at once.
import { parseLifecycleConfiguration, S3Error } from '@blobcache/s3-protocol';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, xmlTextResponse } from './responses.ts';
import type { S3Route } from './route.ts';

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
  if (!(await ctx.store.updateBucket(ctx.bucket, (record) => ({ ...record, lifecycle }))))
    throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
  ctx.lifecycle?.nudge();
  return emptyResponse(200);
}

async function deleteLifecycle(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  await ctx.store.updateBucket(ctx.bucket, ({ lifecycle: _removed, ...record }) => record);
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
