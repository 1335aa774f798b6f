// GetObject and HeadObject.
// Invariants:
// - A GET streams exactly one version: the object is pinned before its first byte is read and
//   released when the response ends or the client goes away (overwrites and deletes wait for it).
// - Whole-object checksums are returned only when asked (x-amz-checksum-mode: ENABLED) and never
//   on a range response: a partial body cannot match them.

import {
  evaluateReadConditionals,
  formatHttpDate,
  parseRange,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import { expirationHeader } from './bucket-lifecycle.ts';
import type { ObjectContext } from './context.ts';
import { checkVersionId, sendObjectBytes } from './object-body.ts';
import { objectVersion, renderStandardHeaders } from './object-headers.ts';
import { noSuchKey, requireHead } from './require-bucket.ts';
import { emptyResponse, plainResponse } from './responses.ts';
import type { S3Route } from './route.ts';
import { taggingCountHeader } from './tagging.ts';

function objectHeaders(ctx: ObjectContext, head: ObjectHead, whole: boolean): Record<string, string> {
  const out: Record<string, string> = {
    etag: `"${head.etag}"`,
    'last-modified': formatHttpDate(new Date(head.lastModifiedMs)),
    'accept-ranges': 'bytes',
  };
  if (head.partCount !== undefined) out['x-amz-mp-parts-count'] = String(head.partCount);
  if (head.sse !== undefined) out['x-amz-server-side-encryption'] = head.sse;
  if (head.storageClass !== undefined) out['x-amz-storage-class'] = head.storageClass;
  const expiration = expirationHeader(ctx.store.cachedBucket(ctx.bucket), ctx.key, head);
  if (expiration !== undefined) out['x-amz-expiration'] = expiration;
  renderStandardHeaders(head, ctx.target.query, out);
  if (whole && ctx.headers['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED') {
    for (const [alg, value] of Object.entries(head.checksums))
      out[`x-amz-checksum-${alg.toLowerCase()}`] = value;
    if (Object.keys(head.checksums).length > 0)
      out['x-amz-checksum-type'] = head.checksumType ?? 'FULL_OBJECT';
  }
  return out;
}

async function headObject(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  const head = await requireHead(ctx);
  evaluateReadConditionals(ctx.headers, objectVersion(head));
  const range = parseRange(ctx.headers.range, head.size);
  const headers = objectHeaders(ctx, head, range.kind === 'full');
  if (range.kind === 'partial') {
    headers['content-range'] = range.contentRange;
    headers['content-length'] = String(range.length);
    return plainResponse(206, headers);
  }
  headers['content-length'] = String(head.size);
  return plainResponse(200, headers);
}

async function getObject(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  const obj = await ctx.store.openObject(ctx.bucket, ctx.key);
  if (!obj) throw await noSuchKey(ctx);
  let handedOff = false;
  try {
    const head = obj.head;
    evaluateReadConditionals(ctx.headers, objectVersion(head));
    const range = parseRange(ctx.headers.range, head.size);
    const partial = range.kind === 'partial';
    const headers = objectHeaders(ctx, head, !partial);
    // [start, end): parseRange's end is inclusive.
    const start = partial ? range.start : 0;
    const end = partial ? range.end + 1 : head.size;
    if (partial) headers['content-range'] = range.contentRange;
    headers['content-length'] = String(end - start);
    taggingCountHeader(head, headers);
    if (end === start) return emptyResponse(200, headers);
    handedOff = true;
    return sendObjectBytes(ctx, obj, partial ? 206 : 200, headers, start, end);
  } finally {
    if (!handedOff) obj.release();
  }
}

export const readObjectRoutes: S3Route[] = [
  { operation: 'GetObject', method: 'GET', level: 'object', handle: getObject },
  { operation: 'HeadObject', method: 'HEAD', level: 'object', handle: headObject },
];
