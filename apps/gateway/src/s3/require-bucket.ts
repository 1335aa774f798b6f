import { S3Error } from '@blobcache/s3-protocol';
import type { BucketRecord } from '../store/object-head.ts';
import type { BucketContext } from './context.ts';

/** The bucket record, or NoSuchBucket (404). */
export async function requireBucket(ctx: BucketContext): Promise<BucketRecord> {
  const record = await ctx.store.getBucket(ctx.bucket);
  if (!record) throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: ctx.bucket } });
  return record;
}
