// GetObject and HeadObject on a mapped bucket: served from the cache when fresh, otherwise from
// one coalesced upstream request, with `x-cache: HIT | MISS | REVALIDATED | STALE`.
// Invariants:
// - A miss's first byte never waits for the whole object: the leader gets the upstream bytes as
//   they arrive, coalesced followers read the fill's chunks as they land.
// - Ranged, part-scoped and versioned reads are relayed (a cold range never waits for the whole
//   object) and never stored under the whole-object identity; a range on a fresh cached copy is
//   served locally.
// - When upstream fails, a cached copy is served with `x-cache: STALE`; without one the client
//   gets 503 naming the upstream problem.
// - A cached copy whose chunks were evicted under it is treated as a miss when detected before the
//   first byte; detected later, the response is cut (the client sees a short body) and the copy
//   purged, never padded or served wrong.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import {
  evaluateReadConditionals,
  formatHttpDate,
  parseRange,
  S3Error,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { ObjectContext } from '../s3/context.ts';
import { objectVersion, renderStandardHeaders } from '../s3/object-headers.ts';
import { emptyResponse } from '../s3/responses.ts';
import { MissingChunkError } from '../store/chunk-reader.ts';
import { CHUNK_BYTES } from '../store/layout.ts';
import type { ObjectHead } from '../store/object-head.ts';
import type { HeadFields } from '../store/object-store.ts';
import { type Fill, FillAbortedError, type FillSink, responseSink } from './fill.ts';
import { cacheKey, type UpstreamCache } from './upstream-cache.ts';
import { classifyUpstreamError, upstreamUnavailable } from './upstream-errors.ts';
import { headFieldsFrom } from './upstream-head.ts';

export type CacheStatus = 'HIT' | 'MISS' | 'REVALIDATED' | 'STALE';

/** Whole-object reads retry this often when a coalesced fill they waited on did not commit. */
const MAX_READ_ROUNDS = 3;

type HeadLike = HeadFields | ObjectHead;

function responseHeaders(ctx: ObjectContext, h: HeadLike, status: CacheStatus): Record<string, string> {
  const out: Record<string, string> = {
    etag: `"${h.etag}"`,
    'last-modified': formatHttpDate(new Date(h.lastModifiedMs)),
    'accept-ranges': 'bytes',
    'x-cache': status,
  };
  if (h.partCount !== undefined) out['x-amz-mp-parts-count'] = String(h.partCount);
  renderStandardHeaders(h as ObjectHead, ctx.target.query, out);
  return out;
}

function notFound(ctx: ObjectContext, code: 'NoSuchKey' | 'NoSuchBucket', status: CacheStatus): S3Error {
  return new S3Error(code, undefined, {
    extra: code === 'NoSuchKey' ? { Key: ctx.key } : { BucketName: ctx.bucket },
    headers: { 'x-cache': status },
  });
}

/** Conditions and range of a read against known head fields; throws 304/412/416. */
function plan(ctx: ObjectContext, h: HeadLike, status: CacheStatus) {
  try {
    evaluateReadConditionals(ctx.headers, objectVersion(h));
    const range = parseRange(ctx.headers.range, h.size);
    // [start, end): parseRange's end is inclusive.
    return range.kind === 'partial' ? { start: range.start, end: range.end + 1 } : undefined;
  } catch (err) {
    if (err instanceof S3Error) {
      throw new S3Error(err.code, err.message, {
        extra: err.extra,
        headers: { ...(err.headers ?? {}), 'x-cache': status },
      });
    }
    throw err;
  }
}

function headResponse(ctx: ObjectContext, h: HeadLike, status: CacheStatus): Response {
  const range = plan(ctx, h, status);
  const headers = responseHeaders(ctx, h, status);
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end - 1}/${h.size}`;
    headers['content-length'] = String(range.end - range.start);
    return new Response(null, { status: 206, headers });
  }
  headers['content-length'] = String(h.size);
  return new Response(null, { status: 200, headers });
}

/**
 * Serves the current cached copy; undefined when there is none usable (gone, or its first chunk
 * was evicted), so the caller falls back to upstream.
 */
async function serveCached(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
  status: CacheStatus,
): Promise<Response | undefined> {
  const obj = await up.store.openObject(ub, ctx.key);
  if (!obj) return undefined;
  let handedOff = false;
  try {
    const head = obj.head;
    const range = plan(ctx, head, status);
    const headers = responseHeaders(ctx, head, status);
    const start = range?.start ?? 0;
    const end = range?.end ?? head.size;
    if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${head.size}`;
    headers['content-length'] = String(end - start);
    if (end === start) return emptyResponse(range ? 206 : 200, headers);
    const chunks = obj.read(start, end);
    let first: IteratorResult<Buffer>;
    try {
      first = await chunks.next();
    } catch (err) {
      if (!(err instanceof MissingChunkError)) throw err;
      await up.purge(ub, ctx.key, head.versionId);
      return undefined;
    }
    ctx.res.writeHead(range ? 206 : 200, headers);
    const state = ctx.state;
    const body = async function* (): AsyncGenerator<Buffer> {
      if (!first.done) {
        state.bytesOut += first.value.length;
        yield first.value;
      }
      try {
        for await (const chunk of chunks) {
          state.bytesOut += chunk.length;
          yield chunk;
        }
      } catch (err) {
        if (err instanceof MissingChunkError) await up.purge(ub, ctx.key, head.versionId).catch(() => {});
        throw err;
      }
    };
    handedOff = true;
    pipeline(Readable.from(body(), { objectMode: false, highWaterMark: 1 }), ctx.res)
      .catch((err: unknown) => {
        ctx.logger.warn({ err, requestId: ctx.state.requestId }, 'cached GetObject stream ended early');
      })
      .finally(() => obj.release());
    return RESPONSE_ALREADY_SENT;
  } finally {
    if (!handedOff) obj.release();
  }
}

/** Streams an upstream body that is not (or cannot be) cached. */
function relayBody(
  ctx: ObjectContext,
  statusCode: number,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  up: UpstreamCache,
): Response {
  ctx.res.writeHead(statusCode, headers);
  const state = ctx.state;
  const counted = async function* (): AsyncGenerator<Uint8Array> {
    for await (const piece of body) {
      up.counters.inc('upstreamBytes', piece.byteLength);
      state.bytesOut += piece.byteLength;
      yield piece;
    }
  };
  pipeline(Readable.from(counted(), { objectMode: false, highWaterMark: 1 }), ctx.res).catch(
    (err: unknown) => {
      body.destroy?.();
      ctx.logger.warn({ err, requestId: ctx.state.requestId }, 'relayed GetObject ended early');
    },
  );
  return RESPONSE_ALREADY_SENT;
}

/** Ranged / partNumber / versionId GETs (and oversized objects): one upstream GET, not cached. */
async function relayGet(up: UpstreamCache, ctx: ObjectContext, ub: string): Promise<Response> {
  const q = ctx.target.query;
  const h = ctx.headers;
  const ck = cacheKey(ub, ctx.key);
  const versionId = q.get('versionId');
  const partNumber = q.get('partNumber');
  const ticket = up.fence.beginRead(ck);
  up.counters.inc('upstreamRequests');
  up.counters.inc('passthrough');
  try {
    let out: GetObjectCommandOutput;
    try {
      out = await up.client.send(
        new GetObjectCommand({
          Bucket: ub,
          Key: ctx.key,
          ...(h.range !== undefined ? { Range: h.range } : {}),
          ...(partNumber !== undefined ? { PartNumber: Number(partNumber) } : {}),
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
          ...(h['if-match'] !== undefined ? { IfMatch: h['if-match'] } : {}),
          ...(h['if-none-match'] !== undefined ? { IfNoneMatch: h['if-none-match'] } : {}),
          ...(h['if-modified-since'] !== undefined
            ? { IfModifiedSince: new Date(h['if-modified-since']) }
            : {}),
          ...(h['if-unmodified-since'] !== undefined
            ? { IfUnmodifiedSince: new Date(h['if-unmodified-since']) }
            : {}),
        }),
      );
    } catch (err) {
      const o = classifyUpstreamError(err);
      switch (o.kind) {
        case 'missing':
          if (versionId === undefined && o.code === 'NoSuchKey') up.rememberMissing(ck, ticket.poisoned);
          throw notFound(ctx, o.code, 'MISS');
        case 'notModified':
          throw new S3Error('NotModified', undefined, { headers: { 'x-cache': 'MISS' } });
        case 'rejected':
          throw o.error;
        case 'unavailable':
          up.counters.inc('upstreamErrors');
          throw upstreamUnavailable(up.endpoint, o.detail, { 'x-cache': 'MISS' });
      }
    }
    const fields = headFieldsFrom(out);
    if (out.PartsCount !== undefined) fields.partCount = out.PartsCount;
    const headers = responseHeaders(ctx, fields, 'MISS');
    headers['content-length'] = String(fields.size);
    if (out.ContentRange !== undefined) headers['content-range'] = out.ContentRange;
    const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
    if (!body || fields.size === 0) return emptyResponse(out.ContentRange ? 206 : 200, headers);
    return relayBody(ctx, out.ContentRange ? 206 : 200, headers, body, up);
  } finally {
    ticket.end();
  }
}

function checkKey(ctx: ObjectContext): void {
  validateObjectKey(ctx.key);
}

export async function getObjectThroughCache(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  checkKey(ctx);
  const q = ctx.target.query;
  if (q.has('partNumber') || q.has('versionId')) return relayGet(up, ctx, ub);
  const ck = cacheKey(ub, ctx.key);
  const ranged = ctx.headers.range !== undefined;
  for (let round = 0; round < MAX_READ_ROUNDS; round++) {
    const cached = await up.store.getHead(ub, ctx.key);
    if (!cached && up.isKnownMissing(ck)) {
      up.counters.inc('negativeHits');
      throw notFound(ctx, 'NoSuchKey', 'HIT');
    }
    if (cached && up.isFresh(ck, cached)) {
      const served = await serveCached(up, ctx, ub, 'HIT');
      if (served) {
        up.counters.inc('hits');
        return served;
      }
      continue;
    }
    if (ranged) {
      // A stale copy is checked with a HEAD; a cold range is relayed at once.
      if (!cached) {
        up.counters.inc('misses');
        return relayGet(up, ctx, ub);
      }
      const r = await up.headRefresh(ub, ctx.key, cached);
      if (r.kind === 'notModified') {
        // Served now, not via the freshness check: with a TTL of 0 nothing is ever "fresh".
        const served = await serveCached(up, ctx, ub, 'REVALIDATED');
        if (served) return served;
        continue;
      }
      if (r.kind === 'unavailable') {
        up.counters.inc('staleServed');
        const served = await serveCached(up, ctx, ub, 'STALE');
        if (served) return served;
        throw upstreamUnavailable(up.endpoint, r.detail, { 'x-cache': 'MISS' });
      }
      if (r.kind === 'missing') throw notFound(ctx, r.code, 'MISS');
      if (r.kind === 'rejected') throw r.error;
      up.counters.inc('misses');
      return relayGet(up, ctx, ub);
    }
    const joined = up.refresh(ub, ctx.key, cached);
    const r = await joined.value;
    switch (r.kind) {
      case 'notModified': {
        const served = await serveCached(up, ctx, ub, 'REVALIDATED');
        if (served) return served;
        continue;
      }
      case 'missing':
        throw notFound(ctx, r.code, 'MISS');
      case 'rejected':
        throw r.error;
      case 'unavailable': {
        if (cached) {
          up.counters.inc('staleServed');
          const served = await serveCached(up, ctx, ub, 'STALE');
          if (served) return served;
        }
        throw upstreamUnavailable(up.endpoint, r.detail, { 'x-cache': 'MISS' });
      }
      case 'uncacheable':
        if (!joined.leader) return relayGet(up, ctx, ub);
        up.counters.inc('misses');
        return serveUncacheable(up, ctx, r.fields, r.body);
      case 'fill':
        if (joined.leader) {
          up.counters.inc('misses');
          return serveFillLeader(ctx, r.fill);
        }
        // Still filling: stream its chunks as they land rather than wait for the whole object.
        if (!r.fill.finished) return serveFillFollower(ctx, r.fill);
        if (await r.fill.done) {
          const served = await serveCached(up, ctx, ub, 'MISS');
          if (served) return served;
        }
        continue;
    }
  }
  // Fills kept being overtaken by writes: answer from upstream directly rather than spin.
  return relayGet(up, ctx, ub);
}

function serveUncacheable(
  up: UpstreamCache,
  ctx: ObjectContext,
  fields: HeadFields,
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
): Response {
  try {
    plan(ctx, fields, 'MISS');
  } catch (err) {
    body.destroy?.();
    throw err;
  }
  const headers = responseHeaders(ctx, fields, 'MISS');
  headers['content-length'] = String(fields.size);
  return relayBody(ctx, 200, headers, body, up);
}

/**
 * A coalesced reader of a fill in progress: reads its chunks from the cache store as they land.
 * Hazard: if the fill aborts (upstream failure, a racing write) or a chunk is evicted before it
 * is read, the response is cut short (the client sees a truncated body and retries), never padded.
 */
function serveFillFollower(ctx: ObjectContext, fill: Fill): Response {
  const size = fill.fields.size;
  const range = plan(ctx, fill.fields, 'MISS');
  const headers = responseHeaders(ctx, fill.fields, 'MISS');
  const start = range?.start ?? 0;
  const end = range?.end ?? size;
  if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  headers['content-length'] = String(end - start);
  if (end === start) return emptyResponse(range ? 206 : 200, headers);
  ctx.res.writeHead(range ? 206 : 200, headers);
  const state = ctx.state;
  const body = async function* (): AsyncGenerator<Buffer> {
    for (let i = Math.floor(start / CHUNK_BYTES); i * CHUNK_BYTES < end; i++) {
      const bytes = await fill.chunk(i);
      const chunkStart = i * CHUNK_BYTES;
      if (bytes.length !== Math.min(CHUNK_BYTES, size - chunkStart)) {
        throw new FillAbortedError(
          `chunk ${i} has ${bytes.length} bytes, not what the object's size implies`,
        );
      }
      const from = Math.max(start, chunkStart) - chunkStart;
      const to = Math.min(end, chunkStart + bytes.length) - chunkStart;
      state.bytesOut += to - from;
      yield bytes.subarray(from, to);
    }
  };
  pipeline(Readable.from(body(), { objectMode: false, highWaterMark: 1 }), ctx.res).catch((err: unknown) => {
    ctx.logger.warn({ err, requestId: ctx.state.requestId }, 'coalesced GetObject ended early');
  });
  return RESPONSE_ALREADY_SENT;
}

/** The client whose miss started the fill gets the bytes as they arrive. */
function serveFillLeader(ctx: ObjectContext, fill: Fill): Response {
  let sink: FillSink | undefined;
  try {
    plan(ctx, fill.fields, 'MISS'); // 304/412 for the leader; the fill still runs, headless
    const headers = responseHeaders(ctx, fill.fields, 'MISS');
    headers['content-length'] = String(fill.fields.size);
    if (fill.fields.size === 0) return emptyResponse(200, headers);
    ctx.res.writeHead(200, headers);
    const state = ctx.state;
    sink = responseSink(ctx.res, (n) => {
      state.bytesOut += n;
    });
    return RESPONSE_ALREADY_SENT;
  } finally {
    fill.start(sink);
  }
}

export async function headObjectThroughCache(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  checkKey(ctx);
  const ck = cacheKey(ub, ctx.key);
  const cached = await up.store.getHead(ub, ctx.key);
  if (ctx.target.query.has('partNumber') || ctx.target.query.has('versionId')) return relayHead(up, ctx, ub);
  if (!cached && up.isKnownMissing(ck)) {
    up.counters.inc('negativeHits');
    throw notFound(ctx, 'NoSuchKey', 'HIT');
  }
  if (cached && up.isFresh(ck, cached)) {
    up.counters.inc('hits');
    return headResponse(ctx, cached, 'HIT');
  }
  const r = await up.headRefresh(ub, ctx.key, cached);
  switch (r.kind) {
    case 'head':
      up.counters.inc('misses');
      return headResponse(ctx, r.fields, 'MISS');
    case 'notModified':
      return headResponse(ctx, cached ?? (await mustHead(up, ub, ctx)), 'REVALIDATED');
    case 'missing':
      throw notFound(ctx, r.code, 'MISS');
    case 'rejected':
      throw r.error;
    case 'unavailable':
      if (cached) {
        up.counters.inc('staleServed');
        return headResponse(ctx, cached, 'STALE');
      }
      throw upstreamUnavailable(up.endpoint, r.detail, { 'x-cache': 'MISS' });
  }
}

/** Part-scoped or versioned HEADs: asked of the upstream, never cached. */
async function relayHead(up: UpstreamCache, ctx: ObjectContext, ub: string): Promise<Response> {
  const q = ctx.target.query;
  const partNumber = q.get('partNumber');
  const versionId = q.get('versionId');
  up.counters.inc('upstreamRequests');
  up.counters.inc('passthrough');
  let out: HeadObjectCommandOutput;
  try {
    out = await up.client.send(
      new HeadObjectCommand({
        Bucket: ub,
        Key: ctx.key,
        ...(partNumber !== undefined ? { PartNumber: Number(partNumber) } : {}),
        ...(versionId !== undefined ? { VersionId: versionId } : {}),
      }),
    );
  } catch (err) {
    const o = classifyUpstreamError(err);
    if (o.kind === 'missing') throw notFound(ctx, o.code, 'MISS');
    if (o.kind === 'rejected') throw o.error;
    if (o.kind === 'notModified') throw new S3Error('NotModified');
    up.counters.inc('upstreamErrors');
    throw upstreamUnavailable(up.endpoint, o.detail, { 'x-cache': 'MISS' });
  }
  const fields = headFieldsFrom(out);
  if (out.PartsCount !== undefined) fields.partCount = out.PartsCount;
  const headers = responseHeaders(ctx, fields, 'MISS');
  headers['content-length'] = String(fields.size);
  return new Response(null, { status: out.ContentRange ? 206 : 200, headers });
}

async function mustHead(up: UpstreamCache, ub: string, ctx: ObjectContext): Promise<ObjectHead> {
  const h = await up.store.getHead(ub, ctx.key);
  if (!h) throw new S3Error('ServiceUnavailable', 'cached copy vanished during revalidation; retry');
  return h;
}
