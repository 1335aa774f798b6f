// Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
// AbortMultipartUpload and ListParts (ListMultipartUploads: multipart-list.ts, UploadPartCopy:
// copy-part.ts, GET/HEAD ?partNumber: multipart-read.ts).
// Invariants:
// - A part body streams socket → payload verifier → MD5 + checksums → chunks, never buffered; the
//   part exists (and replaces an earlier one) only once every check passed and its record is put.
// - Every part stores its MD5 (ETag) and a CRC64NVME, plus the upload's declared algorithm, so
//   completion derives ETag and checksums from records alone; parts are never copied again.
// - 200 for CompleteMultipartUpload only after the new head is durable.
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumHeaderName,
  checksumXmlName,
  el,
  optEl,
  parseChecksumAlgorithm,
  parseChecksumHeaders,
  parseChecksumType,
  parseCompleteMultipartUpload,
  parseMaxKeys,
  parseStorageClass,
  S3Error,
  toBase64,
  validateObjectKey,
  verifyPayload,
  type XmlChild,
  type XmlElement,
} from '@blobcache/s3-protocol';
import type { PartRecord, UploadRecord } from '../store/multipart-records.ts';
import { NoSuchUploadError, type RequestedPart, type StoredPart } from '../store/multipart-store.ts';
import { checkCapacity } from './capacity.ts';
import type { ObjectContext } from './context.ts';
import { requestedSse, sseResponseHeaders } from './encryption.ts';
import {
  integerParam,
  MAX_PART_BYTES,
  partTarget,
  uploadIdParam,
  uploadsOf,
  withUploadErrors,
} from './multipart-common.ts';
import {
  effectiveChecksumType,
  type MultipartSummary,
  partChecksumAlgorithm,
  summarizeParts,
} from './multipart-summary.ts';
import { readStandardHeaders } from './object-headers.ts';
import { declaredLength, rejectUnsupportedWriteHeaders, writePrecondition } from './objects-put.ts';
import { ownerElement } from './owner.ts';
import { readVerifiedSmallBody } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, objectLocation, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';
import { requestedTags } from './tagging.ts';

/** 10,000 parts with every checksum element stay well under this. */
const MAX_COMPLETE_BODY_BYTES = 16 * 1024 * 1024;

function checksumHeaders(upload: UploadRecord): Record<string, string> {
  if (!upload.checksumAlgorithm) return {};
  return {
    'x-amz-checksum-algorithm': upload.checksumAlgorithm,
    'x-amz-checksum-type': effectiveChecksumType(upload.checksumAlgorithm, upload.checksumType),
  };
}

async function createMultipartUpload(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  const bucket = await requireBucket(ctx);
  rejectUnsupportedWriteHeaders(ctx);
  const sse = requestedSse(ctx.headers, bucket);
  const fields = readStandardHeaders(ctx.headers);
  const algorithmHeader = ctx.headers['x-amz-checksum-algorithm'];
  const algorithm = algorithmHeader === undefined ? undefined : parseChecksumAlgorithm(algorithmHeader);
  if (algorithmHeader !== undefined && algorithm === undefined)
    throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
  const type = parseChecksumType(ctx.headers['x-amz-checksum-type']);
  if (type !== undefined && algorithm === undefined) {
    throw new S3Error(
      'InvalidRequest',
      'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
    );
  }
  if (type === 'FULL_OBJECT' && (algorithm === 'SHA1' || algorithm === 'SHA256')) {
    throw new S3Error('InvalidRequest', `The ${algorithm} checksum algorithm does not support FULL_OBJECT.`);
  }
  if (type === 'COMPOSITE' && algorithm === 'CRC64NVME') {
    throw new S3Error('InvalidRequest', 'The CRC64NVME checksum algorithm supports only FULL_OBJECT.');
  }
  const record: Omit<UploadRecord, 'initiatedMs'> = {
    ...fields,
    ...requestedTags(ctx.headers),
    key: ctx.key,
    owner: ctx.auth.accessKeyId,
  };
  if (algorithm) record.checksumAlgorithm = algorithm;
  if (type) record.checksumType = type;
  if (sse) record.sse = 'AES256';
  const storageClass = parseStorageClass(ctx.headers['x-amz-storage-class']);
  if (storageClass !== undefined) record.storageClass = storageClass;
  const uploadId = await uploadsOf(ctx).create(ctx.bucket, record);
  return xmlResponse(
    el('InitiateMultipartUploadResult', [
      el('Bucket', ctx.bucket),
      el('Key', ctx.key),
      el('UploadId', uploadId),
    ]),
    200,
    { ...checksumHeaders({ ...record, initiatedMs: 0 }), ...sseResponseHeaders(record) },
  );
}

/** The algorithms a part stores: CRC64NVME always, the upload's and the one the client declared. */
export function partAlgorithms(
  upload: UploadRecord,
  declared: ChecksumAlgorithm | undefined,
): ChecksumAlgorithm[] {
  const wanted = new Set<ChecksumAlgorithm>(['CRC64NVME']);
  if (upload.checksumAlgorithm) wanted.add(upload.checksumAlgorithm);
  if (declared) wanted.add(declared);
  return CHECKSUM_ALGORITHMS.filter((a) => wanted.has(a));
}

/** An UploadPart checksum must be the upload's algorithm when the upload declared one. */
export function checkPartAlgorithm(upload: UploadRecord, declared: ChecksumAlgorithm | undefined): void {
  if (upload.checksumAlgorithm && declared && declared !== upload.checksumAlgorithm) {
    throw new S3Error(
      'InvalidRequest',
      `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${declared.toLowerCase()}`,
    );
  }
}

async function uploadPart(ctx: ObjectContext): Promise<Response> {
  const { partNumber, uploads, uploadId, upload } = await partTarget(ctx);
  const length = declaredLength(ctx);
  if (length !== undefined && length > MAX_PART_BYTES) {
    throw new S3Error('EntityTooLarge', undefined, {
      extra: { ProposedSize: String(length), MaxSizeAllowed: String(MAX_PART_BYTES) },
    });
  }
  checkCapacity(ctx, length ?? 0);
  const declared = parseChecksumHeaders(ctx.headers);
  checkPartAlgorithm(upload, declared?.algorithm);
  const algorithms = partAlgorithms(upload, declared?.algorithm);
  // Header-level problems throw here, before anything is written.
  const payload = verifyPayload(ctx.req, ctx.auth, ctx.headers, {
    compute: ['MD5', ...algorithms],
    maxPayloadBytes: MAX_PART_BYTES,
  });
  const pending = await uploads.beginPart(ctx.bucket, ctx.key, uploadId, partNumber);
  try {
    await pending.write(payload.body, MAX_PART_BYTES);
    const result = payload.result();
    ctx.state.bytesIn = result.length;
    const md5 = result.digests.get('MD5');
    if (!md5) throw new Error('payload verifier did not compute MD5');
    const checksums: PartRecord['checksums'] = {};
    for (const a of algorithms) {
      const d = result.digests.get(a);
      if (!d) throw new Error(`payload verifier did not compute ${a}`);
      checksums[a] = toBase64(d);
    }
    const record = await pending.commit({
      etag: md5.toString('hex'),
      lastModifiedMs: Date.now(),
      checksums,
      ...(declared ? { declared: declared.algorithm } : {}),
    });
    const headers: Record<string, string> = { etag: `"${record.etag}"`, ...sseResponseHeaders(upload) };
    const shown = declared?.algorithm ?? upload.checksumAlgorithm;
    if (shown) headers[checksumHeaderName(shown)] = checksums[shown] as string;
    return emptyResponse(200, headers);
  } catch (err) {
    await pending.abort();
    throw err;
  }
}

/**
 * On CompleteMultipartUpload, `x-amz-checksum-<alg>` and `x-amz-mp-object-size` describe the
 * completed OBJECT, not the XML body: they are taken out before the body is verified and checked
 * against the summary instead.
 */
function objectClaims(ctx: ObjectContext): {
  bodyHeaders: Record<string, string | undefined>;
  check: (summary: MultipartSummary) => void;
} {
  const bodyHeaders: Record<string, string | undefined> = { ...ctx.headers };
  const claimed: Array<{ algorithm: ChecksumAlgorithm; value: string }> = [];
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = checksumHeaderName(algorithm);
    const value = bodyHeaders[name];
    if (value === undefined) continue;
    claimed.push({ algorithm, value: value.trim() });
    delete bodyHeaders[name];
  }
  if (claimed.length > 0) delete bodyHeaders['x-amz-sdk-checksum-algorithm'];
  const sizeHeader = ctx.headers['x-amz-mp-object-size'];
  if (sizeHeader !== undefined && !/^\d{1,16}$/.test(sizeHeader.trim())) {
    throw new S3Error('InvalidArgument', 'The x-amz-mp-object-size header is not a valid size', {
      extra: { ArgumentName: 'x-amz-mp-object-size', ArgumentValue: sizeHeader },
    });
  }
  return {
    bodyHeaders,
    check: (summary) => {
      if (sizeHeader !== undefined && Number(sizeHeader.trim()) !== summary.size) {
        throw new S3Error(
          'InvalidRequest',
          `The provided 'x-amz-mp-object-size' header value ${sizeHeader.trim()} does not match what was computed: ${summary.size}`,
        );
      }
      for (const c of claimed) {
        if (c.algorithm !== summary.algorithm) {
          throw new S3Error(
            'InvalidRequest',
            `The upload was created using the ${summary.algorithm} checksum algorithm, not ${c.algorithm}.`,
          );
        }
        const bare = (v: string) => v.replace(/-\d+$/, '');
        if (bare(c.value) !== bare(summary.checksum)) {
          throw new S3Error(
            'BadDigest',
            `The ${checksumHeaderName(c.algorithm)} you specified did not match the calculated checksum.`,
          );
        }
      }
    },
  };
}

async function completeMultipartUpload(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  await requireBucket(ctx);
  const uploadId = uploadIdParam(ctx);
  const read: { requested?: readonly RequestedPart[] } = {};
  try {
    return await completeUpload(ctx, uploadId, read);
  } catch (err) {
    // Gone because it completed? (A retry after a lost answer, or one racing the first attempt.)
    if (!(err instanceof NoSuchUploadError)) throw err;
    const current = await ctx.store.getHead(ctx.bucket, ctx.key);
    if (current?.completedUploadId !== uploadId) throw err;
    // A race with the first attempt fails after this request's body was read: do not read it twice.
    read.requested ??= parseCompleteMultipartUpload(
      await readVerifiedSmallBody(
        { ...ctx, headers: objectClaims(ctx).bodyHeaders },
        MAX_COMPLETE_BODY_BYTES,
      ),
    );
    if (read.requested.length !== current.partCount) throw err;
    return xmlResponse(
      el('CompleteMultipartUploadResult', [
        el('Location', objectLocation(ctx, ctx.key)),
        el('Bucket', ctx.bucket),
        el('Key', ctx.key),
        el('ETag', `"${current.etag}"`),
      ]),
      200,
      sseResponseHeaders(current),
    );
  }
}

async function completeUpload(
  ctx: ObjectContext,
  uploadId: string,
  read: { requested?: readonly RequestedPart[] },
): Promise<Response> {
  const uploads = uploadsOf(ctx);
  await uploads.require(ctx.bucket, uploadId, ctx.key);
  const check = writePrecondition(ctx);
  if (check) check(await ctx.store.getHead(ctx.bucket, ctx.key));
  const claims = objectClaims(ctx);
  const body = await readVerifiedSmallBody({ ...ctx, headers: claims.bodyHeaders }, MAX_COMPLETE_BODY_BYTES);
  const requested = parseCompleteMultipartUpload(body);
  read.requested = requested;
  let summary: MultipartSummary | undefined;
  let upload: UploadRecord | undefined;
  const head = await uploads.complete({
    bucket: ctx.bucket,
    key: ctx.key,
    uploadId,
    requested,
    check,
    partChecksum: partChecksumAlgorithm,
    build: (record: UploadRecord, parts: readonly StoredPart[]) => {
      upload = record;
      summary = summarizeParts(record, requested, parts);
      claims.check(summary);
      return {
        contentType: record.contentType,
        meta: record.meta,
        ...(record.contentEncoding === undefined ? {} : { contentEncoding: record.contentEncoding }),
        ...(record.contentDisposition === undefined ? {} : { contentDisposition: record.contentDisposition }),
        ...(record.contentLanguage === undefined ? {} : { contentLanguage: record.contentLanguage }),
        ...(record.cacheControl === undefined ? {} : { cacheControl: record.cacheControl }),
        ...(record.expires === undefined ? {} : { expires: record.expires }),
        ...(record.tags === undefined ? {} : { tags: record.tags }),
        // The parts were encrypted as the upload asked (multipart-store beginPart).
        ...(record.sse === undefined ? {} : { sse: record.sse }),
        ...(record.storageClass === undefined ? {} : { storageClass: record.storageClass }),
        size: summary.size,
        etag: summary.etag,
        lastModifiedMs: Date.now(),
        checksums: { [summary.algorithm]: summary.checksum },
        checksumType: summary.checksumType,
        partCount: parts.length,
        completedUploadId: uploadId,
      };
    },
  });
  if (!summary || !upload) throw new Error('completion built no summary');
  const declared = upload.checksumAlgorithm !== undefined;
  const children: XmlChild[] = [
    el('Location', objectLocation(ctx, ctx.key)),
    el('Bucket', ctx.bucket),
    el('Key', ctx.key),
    el('ETag', `"${head.etag}"`),
    declared ? el(checksumXmlName(summary.algorithm), summary.checksum) : undefined,
    declared ? el('ChecksumType', summary.checksumType) : undefined,
  ];
  return xmlResponse(el('CompleteMultipartUploadResult', children), 200, sseResponseHeaders(upload));
}

async function abortMultipartUpload(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  await requireBucket(ctx);
  await uploadsOf(ctx).abort(ctx.bucket, ctx.key, uploadIdParam(ctx));
  return emptyResponse(204);
}

function partElement(p: StoredPart, upload: UploadRecord): XmlElement {
  const r = p.record;
  const shown = (a: ChecksumAlgorithm) => a === upload.checksumAlgorithm || a === r.declared;
  return el('Part', [
    el('PartNumber', p.partNumber),
    el('LastModified', new Date(r.lastModifiedMs)),
    el('ETag', `"${r.etag}"`),
    el('Size', r.bytes),
    ...CHECKSUM_ALGORITHMS.filter(shown).map((a) => optEl(checksumXmlName(a), r.checksums[a])),
  ]);
}

async function listParts(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  await requireBucket(ctx);
  const uploads = uploadsOf(ctx);
  const uploadId = uploadIdParam(ctx);
  const upload = await uploads.require(ctx.bucket, uploadId, ctx.key);
  const maxParts = parseMaxParts(ctx.target.query.get('max-parts'));
  const marker = integerParam(ctx, 'part-number-marker', 0);
  const page = await uploads.listParts(uploadId, marker, maxParts);
  const last = page.parts[page.parts.length - 1];
  const children: XmlChild[] = [
    el('Bucket', ctx.bucket),
    el('Key', ctx.key),
    el('UploadId', uploadId),
    ownerElement(upload.owner, 'Initiator'),
    ownerElement(upload.owner),
    el('StorageClass', upload.storageClass ?? 'STANDARD'),
    el('PartNumberMarker', marker),
    el('NextPartNumberMarker', last ? last.partNumber : 0),
    el('MaxParts', maxParts),
    el('IsTruncated', page.truncated),
    optEl('ChecksumAlgorithm', upload.checksumAlgorithm),
    optEl(
      'ChecksumType',
      upload.checksumAlgorithm
        ? effectiveChecksumType(upload.checksumAlgorithm, upload.checksumType)
        : undefined,
    ),
    ...page.parts.map((p) => partElement(p, upload)),
  ];
  return xmlResponse(el('ListPartsResult', children));
}

function parseMaxParts(value: string | undefined): number {
  try {
    return parseMaxKeys(value?.trim(), 1000);
  } catch {
    throw new S3Error('InvalidArgument', 'Provided max-parts not an integer or within integer range', {
      extra: { ArgumentName: 'max-parts', ArgumentValue: value ?? '' },
    });
  }
}

const guarded =
  (fn: (ctx: ObjectContext) => Promise<Response>) =>
  (ctx: ObjectContext): Promise<Response> =>
    withUploadErrors(() => fn(ctx));

export const multipartRoutes: S3Route[] = [
  {
    operation: 'CreateMultipartUpload',
    method: 'POST',
    level: 'object',
    param: 'uploads',
    handle: guarded(createMultipartUpload),
  },
  {
    operation: 'UploadPart',
    method: 'PUT',
    level: 'object',
    param: ['partNumber', 'uploadId'],
    handle: guarded(uploadPart),
  },
  {
    operation: 'CompleteMultipartUpload',
    method: 'POST',
    level: 'object',
    param: 'uploadId',
    handle: guarded(completeMultipartUpload),
  },
  {
    operation: 'AbortMultipartUpload',
    method: 'DELETE',
    level: 'object',
    param: 'uploadId',
    handle: guarded(abortMultipartUpload),
  },
  { operation: 'ListParts', method: 'GET', level: 'object', param: 'uploadId', handle: guarded(listParts) },
];
