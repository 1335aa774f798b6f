// Multipart uploads and copies on a mapped bucket, carried through to the upstream.
// Invariants:
// - Upload ids are the upstream's: the gateway keeps no multipart state of its own for mapped
//   buckets, so nothing is lost or orphaned locally whatever happens mid-upload.
// - Part bodies are verified by the gateway and streamed upstream with the last piece held back
//   until verification passed (see object-writes.ts).
// - CompleteMultipartUpload and CopyObject change the destination object: they hold its fence and
//   drop its cached copy. Complete leaves no new copy (the next GET fills it); a copy whose source
//   is cached caches its destination from the source's bytes (write-copy.ts). Copies are between
//   mapped buckets only (the upstream copies server-side); a copy involving a local-only bucket
//   answers 501.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type StorageClass,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import {
  el,
  MAX_PART_BYTES,
  optEl,
  parseCompleteMultipartUpload,
  parseCopyDirective,
  parseCopySource,
  parseMaxCount,
  parsePartNumber,
  parseStorageClass,
  S3Error,
  validateObjectKey,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { BucketContext, ObjectContext } from '../s3/context.ts';
import { requestedSse } from '../s3/encryption.ts';
import { readStandardHeaders } from '../s3/object-headers.ts';
import { ownerElement } from '../s3/owner.ts';
import { readVerifiedSmallBody, receivePayload } from '../s3/payload.ts';
import { emptyResponse, xmlResponse } from '../s3/responses.ts';
import {
  announcedLength,
  fenced,
  sendVerifiedBody,
  taggingFields,
  upstreamMetadata,
} from './object-writes.ts';
import type { UpstreamCache } from './upstream-cache.ts';
import { upstreamWriteError } from './upstream-errors.ts';
import { cacheCopiedObject } from './write-copy.ts';

const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;

async function call<T>(up: UpstreamCache, key: string | undefined, fn: () => Promise<T>): Promise<T> {
  up.counters.inc('upstreamRequests');
  try {
    return await fn();
  } catch (err) {
    throw upstreamWriteError(up.endpoint, err, key);
  }
}

function uploadIdOf(ctx: ObjectContext): string {
  const id = ctx.target.query.get('uploadId');
  if (!id) throw new S3Error('NoSuchUpload', undefined, { extra: { UploadId: id ?? '' } });
  return id;
}

/** Standard object headers of a new object, as SDK command fields. */
function objectFields(ctx: ObjectContext) {
  const f = readStandardHeaders(ctx.headers);
  // The upstream encrypts what it stores; KMS requests are refused here as for local buckets.
  const sse = requestedSse(ctx.headers, undefined);
  const storageClass = parseStorageClass(ctx.headers['x-amz-storage-class']);
  return {
    ...(sse ? { ServerSideEncryption: 'AES256' as const } : {}),
    ...(storageClass === undefined ? {} : { StorageClass: storageClass as StorageClass }),
    ContentType: f.contentType,
    Metadata: upstreamMetadata(f.meta),
    ...(f.contentEncoding !== undefined ? { ContentEncoding: f.contentEncoding } : {}),
    ...(f.contentDisposition !== undefined ? { ContentDisposition: f.contentDisposition } : {}),
    ...(f.contentLanguage !== undefined ? { ContentLanguage: f.contentLanguage } : {}),
    ...(f.cacheControl !== undefined ? { CacheControl: f.cacheControl } : {}),
    ...(f.expires !== undefined ? { Expires: new Date(f.expires) } : {}),
  };
}

export async function createMultipartThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  // Refuse KMS and archive classes before anything goes upstream.
  requestedSse(ctx.headers, undefined);
  parseStorageClass(ctx.headers['x-amz-storage-class']);
  const out = await call(up, ctx.key, () =>
    up.client.send(
      new CreateMultipartUploadCommand({
        Bucket: ub,
        Key: ctx.key,
        ...objectFields(ctx),
        ...taggingFields(ctx),
      }),
    ),
  );
  if (!out.UploadId) throw new S3Error('InternalError', 'upstream returned no UploadId');
  return xmlResponse(
    el('InitiateMultipartUploadResult', [
      el('Bucket', ctx.bucket),
      el('Key', ctx.key),
      el('UploadId', out.UploadId),
    ]),
  );
}

export async function uploadPartThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  const partNumber = parsePartNumber(ctx.target.query.get('partNumber'));
  const uploadId = uploadIdOf(ctx);
  const length = announcedLength(ctx, MAX_PART_BYTES);
  const payload = receivePayload(ctx, MAX_PART_BYTES);
  up.counters.inc('upstreamRequests');
  const out = await sendVerifiedBody(up, ctx.key, payload.body, (Body, abortSignal) =>
    up.client.send(
      new UploadPartCommand({
        Bucket: ub,
        Key: ctx.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        ContentLength: length,
        Body,
        ...(ctx.headers['content-md5'] !== undefined ? { ContentMD5: ctx.headers['content-md5'] } : {}),
      }),
      { abortSignal },
    ),
  );
  const digests = payload.finish();
  const headers: Record<string, string> = { etag: out.ETag ?? `"${digests.md5.toString('hex')}"` };
  if (digests.declared) {
    headers[`x-amz-checksum-${digests.checksum.algorithm.toLowerCase()}`] = digests.checksum.value;
  }
  return emptyResponse(200, headers);
}

export async function completeMultipartThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  const uploadId = uploadIdOf(ctx);
  const parts = parseCompleteMultipartUpload(await readVerifiedSmallBody(ctx, MAX_COMPLETE_BODY_BYTES));
  return fenced(up, ub, [ctx.key], async () => {
    const out = await call(up, ctx.key, () =>
      up.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: ub,
          Key: ctx.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
          ...(ctx.headers['if-none-match'] !== undefined
            ? { IfNoneMatch: ctx.headers['if-none-match'] }
            : {}),
          ...(ctx.headers['if-match'] !== undefined ? { IfMatch: ctx.headers['if-match'] } : {}),
        }),
      ),
    );
    up.counters.inc('writeThrough');
    return xmlResponse(
      el('CompleteMultipartUploadResult', [
        el('Location', `/${ctx.bucket}/${encodeURIComponent(ctx.key)}`),
        el('Bucket', ctx.bucket),
        el('Key', ctx.key),
        el('ETag', out.ETag ?? '""'),
      ]),
    );
  });
}

export async function abortMultipartThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  const uploadId = uploadIdOf(ctx);
  await call(up, ctx.key, () =>
    up.client.send(new AbortMultipartUploadCommand({ Bucket: ub, Key: ctx.key, UploadId: uploadId })),
  );
  return emptyResponse(204);
}

export async function listPartsThrough(up: UpstreamCache, ctx: ObjectContext, ub: string): Promise<Response> {
  validateObjectKey(ctx.key);
  const uploadId = uploadIdOf(ctx);
  const q = ctx.target.query;
  const maxParts = parseMaxCount(q.get('max-parts'), 'max-parts');
  const marker = q.get('part-number-marker');
  const out = await call(up, ctx.key, () =>
    up.client.send(
      new ListPartsCommand({
        Bucket: ub,
        Key: ctx.key,
        UploadId: uploadId,
        MaxParts: maxParts,
        ...(marker ? { PartNumberMarker: marker } : {}),
      }),
    ),
  );
  const children: XmlChild[] = [
    el('Bucket', ctx.bucket),
    el('Key', ctx.key),
    el('UploadId', uploadId),
    ownerElement(ctx.auth.accessKeyId, 'Initiator'),
    ownerElement(ctx.auth.accessKeyId),
    el('StorageClass', 'STANDARD'),
    el('PartNumberMarker', marker ?? '0'),
    optEl('NextPartNumberMarker', out.NextPartNumberMarker),
    el('MaxParts', maxParts),
    el('IsTruncated', out.IsTruncated === true),
    ...(out.Parts ?? []).map((p) =>
      el('Part', [
        el('PartNumber', p.PartNumber ?? 0),
        el('LastModified', p.LastModified ?? new Date(0)),
        el('ETag', p.ETag ?? '""'),
        el('Size', p.Size ?? 0),
      ]),
    ),
  ];
  return xmlResponse(el('ListPartsResult', children));
}

export async function listUploadsThrough(
  up: UpstreamCache,
  ctx: BucketContext,
  ub: string,
): Promise<Response> {
  const q = ctx.target.query;
  const maxUploads = parseMaxCount(q.get('max-uploads'), 'max-uploads');
  const prefix = q.get('prefix');
  const delimiter = q.get('delimiter');
  const keyMarker = q.get('key-marker');
  const uploadIdMarker = q.get('upload-id-marker');
  const out = await call(up, undefined, () =>
    up.client.send(
      new ListMultipartUploadsCommand({
        Bucket: ub,
        MaxUploads: maxUploads,
        ...(prefix ? { Prefix: prefix } : {}),
        ...(delimiter ? { Delimiter: delimiter } : {}),
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
      }),
    ),
  );
  const children: XmlChild[] = [
    el('Bucket', ctx.bucket),
    el('KeyMarker', keyMarker ?? ''),
    el('UploadIdMarker', uploadIdMarker ?? ''),
    optEl('NextKeyMarker', out.NextKeyMarker),
    optEl('NextUploadIdMarker', out.NextUploadIdMarker),
    optEl('Prefix', prefix),
    optEl('Delimiter', delimiter),
    el('MaxUploads', maxUploads),
    el('IsTruncated', out.IsTruncated === true),
    ...(out.Uploads ?? []).map((u) =>
      el('Upload', [
        el('Key', u.Key ?? ''),
        el('UploadId', u.UploadId ?? ''),
        ownerElement(ctx.auth.accessKeyId, 'Initiator'),
        ownerElement(ctx.auth.accessKeyId),
        el('StorageClass', 'STANDARD'),
        el('Initiated', u.Initiated ?? new Date(0)),
      ]),
    ),
    ...(out.CommonPrefixes ?? []).map((p) => el('CommonPrefixes', [el('Prefix', p.Prefix ?? '')])),
  ];
  return xmlResponse(el('ListMultipartUploadsResult', children));
}

/** The upstream `x-amz-copy-source` for a client copy source; both buckets must be mapped. */
function upstreamCopySource(
  up: UpstreamCache,
  ctx: ObjectContext,
): { source: string; srcBucket: string; srcKey: string; srcVersioned: boolean } {
  const src = parseCopySource(ctx.headers['x-amz-copy-source'] ?? '');
  const srcUb = up.upstreamBucket(src.bucket);
  if (srcUb === undefined) {
    throw new S3Error(
      'NotImplemented',
      `copying from local bucket ${src.bucket} into the upstream-cached bucket ${ctx.bucket} is not supported`,
    );
  }
  const encodedKey = src.key.split('/').map(encodeURIComponent).join('/');
  const version = src.versionId !== undefined ? `?versionId=${encodeURIComponent(src.versionId)}` : '';
  return {
    source: `${srcUb}/${encodedKey}${version}`,
    srcBucket: srcUb,
    srcKey: src.key,
    srcVersioned: src.versionId !== undefined,
  };
}

function copyConditions(ctx: ObjectContext) {
  const h = ctx.headers;
  return {
    ...(h['x-amz-copy-source-if-match'] !== undefined
      ? { CopySourceIfMatch: h['x-amz-copy-source-if-match'] }
      : {}),
    ...(h['x-amz-copy-source-if-none-match'] !== undefined
      ? { CopySourceIfNoneMatch: h['x-amz-copy-source-if-none-match'] }
      : {}),
    ...(h['x-amz-copy-source-if-modified-since'] !== undefined
      ? { CopySourceIfModifiedSince: new Date(h['x-amz-copy-source-if-modified-since']) }
      : {}),
    ...(h['x-amz-copy-source-if-unmodified-since'] !== undefined
      ? { CopySourceIfUnmodifiedSince: new Date(h['x-amz-copy-source-if-unmodified-since']) }
      : {}),
  };
}

export async function copyObjectThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  // Refuse KMS and archive classes before anything goes upstream.
  requestedSse(ctx.headers, undefined);
  parseStorageClass(ctx.headers['x-amz-storage-class']);
  const { source, srcBucket, srcKey, srcVersioned } = upstreamCopySource(up, ctx);
  const directive = parseCopyDirective(ctx.headers['x-amz-metadata-directive'], 'x-amz-metadata-directive');
  return fenced(up, ub, [ctx.key], async (w) => {
    const out = await call(up, ctx.key, () =>
      up.client.send(
        new CopyObjectCommand({
          Bucket: ub,
          Key: ctx.key,
          CopySource: source,
          MetadataDirective: directive,
          ...(directive === 'REPLACE' ? objectFields(ctx) : {}),
          ...taggingFields(ctx),
          ...copyConditions(ctx),
        }),
      ),
    );
    up.counters.inc('writeThrough');
    // A versioned source is not what the cache holds (it caches the current version only).
    if (
      !srcVersioned &&
      (await cacheCopiedObject(up, { ub: srcBucket, key: srcKey }, ub, ctx.key, w.ticket(ctx.key)))
    ) {
      w.keep(ctx.key);
    }
    const r = out.CopyObjectResult;
    return xmlResponse(
      el('CopyObjectResult', [
        el('LastModified', r?.LastModified ?? new Date()),
        el('ETag', r?.ETag ?? '""'),
      ]),
    );
  });
}

export async function uploadPartCopyThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  const partNumber = parsePartNumber(ctx.target.query.get('partNumber'));
  const uploadId = uploadIdOf(ctx);
  const { source } = upstreamCopySource(up, ctx);
  const range = ctx.headers['x-amz-copy-source-range'];
  const out = await call(up, ctx.key, () =>
    up.client.send(
      new UploadPartCopyCommand({
        Bucket: ub,
        Key: ctx.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        CopySource: source,
        ...(range !== undefined ? { CopySourceRange: range } : {}),
        ...copyConditions(ctx),
      }),
    ),
  );
  const r = out.CopyPartResult;
  return xmlResponse(
    el('CopyPartResult', [el('LastModified', r?.LastModified ?? new Date()), el('ETag', r?.ETag ?? '""')]),
  );
}
