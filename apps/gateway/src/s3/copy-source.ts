// The source of CopyObject / UploadPartCopy: `x-amz-copy-source` parsing, opening the source
// version pinned, its `x-amz-copy-source-if-*` conditions, and streaming its bytes through hashers.
// Invariants: the header is percent-decoded exactly once (`+` stays a plus: SDKs encode a space
// as %20); the source is pinned from the moment its conditions are checked until the copy ends, so
// the bytes copied are exactly the version the conditions held for.
import {
  createHasher,
  evaluateCopySourceConditionals,
  type HashAlgorithm,
  type Hasher,
  parseCopySource as parseCopySourceHeader,
  S3Error,
} from '@blobcache/s3-protocol';
import type { PinnedObject } from '../store/object-store.ts';
import type { ObjectContext } from './context.ts';

/** S3's limit for a CopyObject source (larger objects must be copied part by part). */
export const MAX_COPY_SOURCE_BYTES = 5 * 1024 ** 3;

export type CopySource = { bucket: string; key: string };

function badSource(): S3Error {
  return new S3Error(
    'InvalidArgument',
    'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    {
      extra: { ArgumentName: 'x-amz-copy-source' },
    },
  );
}

/** `[/]bucket/url-encoded-key[?versionId=null]`. Only the `null` version exists here. */
export function parseCopySource(header: string): CopySource {
  const { bucket, key, versionId } = parseCopySourceHeader(header);
  if (versionId !== undefined && versionId !== 'null') {
    throw new S3Error('NoSuchVersion', undefined, { extra: { Key: key, VersionId: versionId } });
  }
  return { bucket, key };
}

/** The copy source named by the request, pinned, after its conditions held; release() it. */
export async function openCopySource(ctx: ObjectContext): Promise<{ source: CopySource; obj: PinnedObject }> {
  const header = ctx.headers['x-amz-copy-source'];
  if (header === undefined) throw badSource();
  const source = parseCopySource(header);
  const obj = await ctx.store.openObject(source.bucket, source.key);
  if (!obj) {
    if (!(await ctx.store.getBucket(source.bucket)))
      throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: source.bucket } });
    throw new S3Error('NoSuchKey', undefined, { extra: { Key: source.key } });
  }
  try {
    evaluateCopySourceConditionals(ctx.headers, {
      etag: obj.head.etag,
      lastModified: new Date(obj.head.lastModifiedMs),
    });
    return { source, obj };
  } catch (err) {
    obj.release();
    throw err;
  }
}

/** Passes chunks through unchanged while feeding every hasher. */
export async function* hashing(
  chunks: AsyncIterable<Buffer>,
  hashers: readonly Hasher[],
): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    for (const h of hashers) h.update(chunk);
    yield chunk;
  }
}

export function hashersFor(algorithms: readonly HashAlgorithm[]): Map<HashAlgorithm, Hasher> {
  return new Map(algorithms.map((a) => [a, createHasher(a)]));
}

/** The digest of one of `hashers` (call once, after the stream ended). */
export function digestOf(hashers: ReadonlyMap<HashAlgorithm, Hasher>, algorithm: HashAlgorithm): Buffer {
  const h = hashers.get(algorithm);
  if (!h) throw new Error(`no ${algorithm} hasher`);
  return h.digest();
}
