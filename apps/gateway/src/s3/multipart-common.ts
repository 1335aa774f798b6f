// Pieces shared by the multipart operations: query parameters, and store errors as S3 errors.
import { S3Error, validateObjectKey } from '@blobcache/s3-protocol';
import { MAX_PART_NUMBER, type UploadRecord } from '../store/multipart-records.ts';
import { InvalidPartError, NoSuchUploadError, UploadStore } from '../store/multipart-store.ts';
import type { ObjectContext, S3Context } from './context.ts';
import { requireBucket } from './require-bucket.ts';

/** S3's part size limit (5 GiB), for UploadPart and each UploadPartCopy. */
export const MAX_PART_BYTES = 5 * 1024 ** 3;

export function uploadsOf(ctx: S3Context): UploadStore {
  return UploadStore.of(ctx.store);
}

export function partNumberParam(ctx: S3Context): number {
  const raw = ctx.target.query.get('partNumber') ?? '';
  const n = /^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      { extra: { ArgumentName: 'partNumber', ArgumentValue: raw } },
    );
  }
  return n;
}

export function uploadIdParam(ctx: S3Context): string {
  return ctx.target.query.get('uploadId') ?? '';
}

export type PartTarget = { partNumber: number; uploads: UploadStore; uploadId: string; upload: UploadRecord };

/** What UploadPart and UploadPartCopy check first: the key, the part number, the bucket, the upload. */
export async function partTarget(ctx: ObjectContext): Promise<PartTarget> {
  validateObjectKey(ctx.key);
  const partNumber = partNumberParam(ctx);
  await requireBucket(ctx);
  const uploads = uploadsOf(ctx);
  const uploadId = uploadIdParam(ctx);
  const upload = await uploads.require(ctx.bucket, uploadId, ctx.key);
  return { partNumber, uploads, uploadId, upload };
}

/** A non-negative integer query parameter (markers), InvalidArgument otherwise. */
export function integerParam(ctx: S3Context, name: string, fallback: number): number {
  return integerArgument(name, ctx.target.query.get(name), fallback);
}

/** A non-negative integer argument (query parameter or header) `name`, or `fallback` when absent. */
export function integerArgument(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw.trim())) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      extra: { ArgumentName: name, ArgumentValue: raw },
    });
  }
  return Number(raw.trim());
}

/** Runs a handler, answering the multipart store's errors as S3 does. */
export async function withUploadErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NoSuchUploadError)
      throw new S3Error('NoSuchUpload', undefined, { extra: { UploadId: err.uploadId } });
    if (err instanceof InvalidPartError) {
      throw new S3Error('InvalidPart', undefined, {
        extra: { PartNumber: String(err.partNumber) },
        cause: err,
      });
    }
    throw err;
  }
}
