// GetObject and HeadObject.
// Invariants:
// - A GET streams exactly one version: the object is pinned before its first byte is read and
//   released when the response ends or the client goes away (overwrites and deletes wait for it).
// - Whole-object checksums are returned only when asked (x-amz-checksum-mode: ENABLED) and never
//   on a range response: a partial body cannot match them.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  evaluateReadConditionals,
  formatHttpDate,
  parseRange,
  S3Error,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ObjectHead } from '../store/object-head.ts';
import type { ObjectContext } from './context.ts';
import { objectVersion, renderStandardHeaders } from './object-headers.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** Only the `null` version exists (versioning is never enabled). */
function checkVersionId(ctx: ObjectContext): void {
  const versionId = ctx.target.query.get('versionId');
  if (versionId !== undefined && versionId !== 'null') {
    throw new S3Error('NoSuchVersion', undefined, { extra: { Key: ctx.key, VersionId: versionId } });
  }
}

async function noSuchKey(ctx: ObjectContext): Promise<S3Error> {
  await requireBucket(ctx);
  return new S3Error('NoSuchKey', undefined, { extra: { Key: ctx.key } });
}

function objectHeaders(ctx: ObjectContext, head: ObjectHead, whole: boolean): Record<string, string> {
  const out: Record<string, string> = {
    etag: `"${head.etag}"`,
    'last-modified': formatHttpDate(new Date(head.lastModifiedMs)),
    'accept-ranges': 'bytes',
  };
  if (head.partCount !== undefined) out['x-amz-mp-parts-count'] = String(head.partCount);
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
  const head = await ctx.store.getHead(ctx.bucket, ctx.key);
  if (!head) throw await noSuchKey(ctx);
  evaluateReadConditionals(ctx.headers, objectVersion(head));
  const range = parseRange(ctx.headers.range, head.size);
  const headers = objectHeaders(ctx, head, range.kind === 'full');
  if (range.kind === 'partial') {
    headers['content-range'] = range.contentRange;
    headers['content-length'] = String(range.length);
    return new Response(null, { status: 206, headers });
  }
  headers['content-length'] = String(head.size);
  return new Response(null, { status: 200, headers });
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
    if (end === start) return emptyResponse(200, headers);
    const inline = head.inline;
    if (inline) {
      // A small object is already in memory: one write, no stream machinery (which costs more
      // than the body itself for a few KiB). The pin is released by `finally`.
      const body = inline.subarray(start, end);
      ctx.state.bytesOut += body.length;
      ctx.res.writeHead(partial ? 206 : 200, headers);
      ctx.res.end(body);
      return RESPONSE_ALREADY_SENT;
    }
    // Stream straight to the socket: backpressure and client aborts are handled by pipeline,
    // and the pin is released whatever happens.
    ctx.res.writeHead(partial ? 206 : 200, headers);
    const state = ctx.state;
    const counted = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        state.bytesOut += chunk.length;
        yield chunk;
      }
    };
    const source = Readable.from(counted(obj.read(start, end)), { objectMode: false, highWaterMark: 1 });
    handedOff = true;
    pipeline(source, ctx.res)
      .catch((err: unknown) => {
        ctx.logger.warn({ err, requestId: ctx.state.requestId }, 'GetObject stream ended early');
      })
      .finally(() => obj.release());
    return RESPONSE_ALREADY_SENT;
  } finally {
    if (!handedOff) obj.release();
  }
}

export const readObjectRoutes: S3Route[] = [
  { operation: 'GetObject', method: 'GET', level: 'object', handle: getObject },
  { operation: 'HeadObject', method: 'HEAD', level: 'object', handle: headObject },
];
