import { S3Error } from '@blobcache/s3-protocol';
import type { BucketRecord, ObjectHead } from '../store/object-head.ts';
import type { BucketContext, ObjectContext } from './context.ts';

/** The bucket record, or NoSuchBucket (404). */
export async function requireBucket(ctx: BucketContext): Promise<BucketRecord> {
  const record = await ctx.store.getBucket(ctx.bucket);
  if (!record) throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
  return record;
}

/** The error for a missing object: NoSuchBucket when its bucket is missing too, else NoSuchKey. */
export async function noSuchKey(ctx: ObjectContext): Promise<S3Error> {
  await requireBucket(ctx);
  return new S3Error('NoSuchKey', undefined, { extra: { Key: ctx.key } });
}

/** The object's current head, or the error for a missing object (noSuchKey). */
export async function requireHead(ctx: ObjectContext): Promise<ObjectHead> {
  const head = await ctx.store.getHead(ctx.bucket, ctx.key);
  if (!head) throw await noSuchKey(ctx);
  return head;
}
