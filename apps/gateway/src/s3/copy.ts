// CopyObject (PUT with x-amz-copy-source). The source version is pinned and streamed chunk by chunk
// into a new version of the destination (memory bounded by the chunk writer), hashed on the way:
// the copy is a new single-part object, so its ETag is the MD5 of its bytes and its checksum is a
// FULL_OBJECT value of the requested algorithm, else of the source's algorithm, else CRC64NVME.
// Invariants:
// - Metadata: COPY (default) keeps the source's content headers and user metadata, REPLACE takes
//   the request's. A copy onto itself must change something (REPLACE, a checksum algorithm, storage
//   class), else InvalidRequest, as S3.
// - Like PutObject: the destination changes only at the head commit, after every byte was copied;
//   a failure discards the new chunks and leaves both objects intact.
import {
  type ChecksumAlgorithm,
  checksumXmlName,
  el,
  parseChecksumAlgorithm,
  parseStorageClass,
  S3Error,
  toBase64,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import type { ObjectContext } from './context.ts';
import { digestOf, hashersFor, hashing, MAX_COPY_SOURCE_BYTES, openCopySource } from './copy-source.ts';
import { requestedSse, sseResponseHeaders } from './encryption.ts';
import { readStandardHeaders, type StandardHeaders } from './object-headers.ts';
import { rejectUnsupportedWriteHeaders, writePrecondition } from './objects-put.ts';
import { requireBucket } from './require-bucket.ts';
import { xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';
import { copiedTags } from './tagging.ts';

function metadataDirective(ctx: ObjectContext): 'COPY' | 'REPLACE' {
  const raw = ctx.headers['x-amz-metadata-directive'];
  if (raw === undefined) return 'COPY';
  const v = raw.trim().toUpperCase();
  if (v === 'COPY' || v === 'REPLACE') return v;
  throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
    extra: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: raw },
  });
}

export function requestedChecksumAlgorithm(ctx: ObjectContext): ChecksumAlgorithm | undefined {
  const raw = ctx.headers['x-amz-checksum-algorithm'];
  if (raw === undefined) return undefined;
  const algorithm = parseChecksumAlgorithm(raw);
  if (!algorithm) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
  return algorithm;
}

function sourceHeaders(head: ObjectHead): StandardHeaders {
  const out: StandardHeaders = { contentType: head.contentType, meta: { ...head.meta } };
  if (head.contentEncoding !== undefined) out.contentEncoding = head.contentEncoding;
  if (head.contentDisposition !== undefined) out.contentDisposition = head.contentDisposition;
  if (head.contentLanguage !== undefined) out.contentLanguage = head.contentLanguage;
  if (head.cacheControl !== undefined) out.cacheControl = head.cacheControl;
  if (head.expires !== undefined) out.expires = head.expires;
  return out;
}

async function copyObject(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  // The destination's encryption comes from this request or its bucket, never from the source.
  const sse = requestedSse(ctx.headers, await requireBucket(ctx));
  const storageClass = parseStorageClass(ctx.headers['x-amz-storage-class']);
  rejectUnsupportedWriteHeaders(ctx);
  const directive = metadataDirective(ctx);
  const requested = requestedChecksumAlgorithm(ctx);
  // Header-level metadata problems (size) before touching the source.
  const replaced = directive === 'REPLACE' ? readStandardHeaders(ctx.headers) : undefined;
  const check = writePrecondition(ctx);
  const { source, obj } = await openCopySource(ctx);
  try {
    const head = obj.head;
    const changesSomething =
      directive === 'REPLACE' ||
      requested !== undefined ||
      ctx.headers['x-amz-storage-class'] !== undefined ||
      ctx.headers['x-amz-server-side-encryption'] !== undefined;
    if (source.bucket === ctx.bucket && source.key === ctx.key && !changesSomething) {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    if (head.size > MAX_COPY_SOURCE_BYTES) {
      throw new S3Error(
        'InvalidRequest',
        `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_SOURCE_BYTES}`,
      );
    }
    if (check) check(await ctx.store.getHead(ctx.bucket, ctx.key));
    const algorithm: ChecksumAlgorithm =
      requested ?? (Object.keys(head.checksums)[0] as ChecksumAlgorithm | undefined) ?? 'CRC64NVME';
    const hashers = hashersFor(['MD5', algorithm]);
    const pending = await ctx.store.beginWrite(ctx.bucket, ctx.key, { sse });
    let committed: ObjectHead;
    try {
      await pending.write(hashing(obj.read(0, head.size), [...hashers.values()]), head.size);
      const checksum = toBase64(digestOf(hashers, algorithm));
      committed = await pending.commit(
        {
          ...(replaced ?? sourceHeaders(head)),
          ...copiedTags(ctx.headers, head),
          // The destination's class is this request's (STANDARD by default), never the source's.
          ...(storageClass === undefined ? {} : { storageClass }),
          size: head.size,
          etag: digestOf(hashers, 'MD5').toString('hex'),
          lastModifiedMs: Date.now(),
          checksums: { [algorithm]: checksum },
          checksumType: 'FULL_OBJECT',
        },
        check,
      );
    } catch (err) {
      await pending.abort();
      throw err;
    }
    const value = committed.checksums[algorithm] as string;
    return xmlResponse(
      el('CopyObjectResult', [
        el('ETag', `"${committed.etag}"`),
        el('LastModified', new Date(committed.lastModifiedMs)),
        el('ChecksumType', 'FULL_OBJECT'),
        el(checksumXmlName(algorithm), value),
      ]),
      200,
      sseResponseHeaders(committed),
    );
  } finally {
    obj.release();
  }
}

export const copyRoutes: S3Route[] = [
  {
    operation: 'CopyObject',
    method: 'PUT',
    level: 'object',
    when: (ctx) => ctx.headers['x-amz-copy-source'] !== undefined,
    handle: copyObject,
  },
];
