// GetObject / HeadObject with `?partNumber=N`: the bytes of one part of a multipart object, as S3
// serves them: 206 with Content-Range and `x-amz-mp-parts-count`. A non-multipart object has one
// part (the whole object); a part number past the last is InvalidPart.
// Invariants: the object is pinned while its part streams (like GetObject); the whole-object
// checksum is never sent with a part (it cannot match the part's bytes): with
// x-amz-checksum-mode: ENABLED a part answers with its own checksum, when its head keeps one
// (DataPart.checksum, see partChecksumAlgorithm), else with none.
import assert from 'node:assert/strict';
import {
  checksumHeaderName,
  evaluateReadConditionals,
  formatHttpDate,
  S3Error,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import type { ChecksumAlgorithm, ResolvedHead } from '../store/object-head.ts';
import type { PinnedObject } from '../store/object-store.ts';
import type { ObjectContext } from './context.ts';
import { partNumberParam } from './multipart-common.ts';
import { checkVersionId, sendObjectBytes } from './object-body.ts';
import { objectVersion, renderStandardHeaders } from './object-headers.ts';
import { noSuchKey } from './require-bucket.ts';
import { emptyResponse, plainResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** Byte range [start, end) of part `n` (1-based) of the object. */
export function partRange(head: ResolvedHead, n: number): { start: number; end: number } {
  if (head.partCount === undefined) {
    if (n !== 1) throw invalidPart(n);
    return { start: 0, end: head.size };
  }
  if (n > head.parts.length) throw invalidPart(n);
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += (head.parts[i] as { bytes: number }).bytes;
  return { start, end: start + (head.parts[n - 1] as { bytes: number }).bytes };
}

function invalidPart(n: number): S3Error {
  return new S3Error('InvalidPart', 'The requested partnumber is not satisfiable', {
    extra: { PartNumberRequested: String(n) },
  });
}

async function openPart(ctx: ObjectContext): Promise<PinnedObject> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  const n = partNumberParam(ctx);
  if (ctx.headers.range !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  const obj = await ctx.store.openObject(ctx.bucket, ctx.key);
  if (!obj) throw await noSuchKey(ctx);
  try {
    evaluateReadConditionals(ctx.headers, objectVersion(obj.head));
    partRange(obj.head, n);
    return obj;
  } catch (err) {
    obj.release();
    throw err;
  }
}

function partHeaders(
  ctx: ObjectContext,
  head: ResolvedHead,
  n: number,
  range: { start: number; end: number },
): Record<string, string> {
  const out: Record<string, string> = {
    etag: `"${head.etag}"`,
    'last-modified': formatHttpDate(new Date(head.lastModifiedMs)),
    'accept-ranges': 'bytes',
    'content-length': String(range.end - range.start),
  };
  if (head.partCount !== undefined) out['x-amz-mp-parts-count'] = String(head.partCount);
  if (head.sse !== undefined) out['x-amz-server-side-encryption'] = head.sse;
  if (head.storageClass !== undefined) out['x-amz-storage-class'] = head.storageClass;
  if (range.end > range.start) out['content-range'] = `bytes ${range.start}-${range.end - 1}/${head.size}`;
  renderStandardHeaders(head, ctx.target.query, out);
  const checksum = head.partCount === undefined ? undefined : head.parts[n - 1]?.checksum;
  if (checksum !== undefined && ctx.headers['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED') {
    const algorithms = Object.keys(head.checksums) as ChecksumAlgorithm[];
    assert(algorithms.length === 1, 'a part checksum is of the one algorithm of the object');
    out[checksumHeaderName(algorithms[0] as ChecksumAlgorithm)] = checksum;
    out['x-amz-checksum-type'] = head.checksumType ?? 'FULL_OBJECT';
  }
  return out;
}

async function headObjectPart(ctx: ObjectContext): Promise<Response> {
  const obj = await openPart(ctx);
  try {
    const n = partNumberParam(ctx);
    const range = partRange(obj.head, n);
    const status = range.end > range.start ? 206 : 200;
    return plainResponse(status, partHeaders(ctx, obj.head, n, range));
  } finally {
    obj.release();
  }
}

async function getObjectPart(ctx: ObjectContext): Promise<Response> {
  const obj = await openPart(ctx);
  let handedOff = false;
  try {
    const n = partNumberParam(ctx);
    const range = partRange(obj.head, n);
    const headers = partHeaders(ctx, obj.head, n, range);
    if (range.end === range.start) return emptyResponse(200, headers);
    handedOff = true;
    return sendObjectBytes(ctx, obj, 206, headers, range.start, range.end);
  } finally {
    if (!handedOff) obj.release();
  }
}

export const partReadRoutes: S3Route[] = [
  { operation: 'GetObject', method: 'GET', level: 'object', param: 'partNumber', handle: getObjectPart },
  { operation: 'HeadObject', method: 'HEAD', level: 'object', param: 'partNumber', handle: headObjectPart },
];
