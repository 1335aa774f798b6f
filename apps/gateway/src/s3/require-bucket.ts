import { S3Error } from '@blobcache/s3-protocol';
import type { BucketRecord, ObjectHead } from '../store/object-head.ts';
import type { BucketContext, ObjectContext } from './context.ts';

/** The bucket record, or NoSuchBucket (404). */
export async function requireBucket(ctx: BucketContext): Promise<BucketRecord> {
  const record = await ctx.store.getBucket(ctx.bucket);
  if (!record) throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
  return record;
}

/** The settings a Put/DeleteBucket<Setting> operation changes (everything but identity). */
export type BucketSettings = Omit<BucketRecord, 'createdMs' | 'region'>;

/** Stores bucket settings (a PutBucket<Setting>): NoSuchBucket if the bucket went away meanwhile. */
export async function setBucketSettings(ctx: BucketContext, settings: BucketSettings): Promise<void> {
  if (!(await ctx.store.updateBucket(ctx.bucket, (record) => ({ ...record, ...settings }))))
    throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
}

/** Removes one bucket setting (a DeleteBucket<Setting>); a bucket without it is left as it is. */
export async function clearBucketSetting(ctx: BucketContext, name: keyof BucketSettings): Promise<void> {
  await requireBucket(ctx);
  await ctx.store.updateBucket(ctx.bucket, (record) => {
    const next = { ...record };
    delete next[name];
    return next;
  });
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
