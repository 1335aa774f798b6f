// Sending an object's bytes (GetObject, GetObject ?partNumber). Invariant: the pinned object handed
// to `sendObjectBytes` is released exactly once, after its last byte was written or the client went
// away; a small (inline) object is written with one `end()` and released at once.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from '@blobcache/s3-protocol';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { PinnedObject } from '../store/object-store.ts';
import type { ObjectContext } from './context.ts';

/** Only the `null` version exists (versioning is never enabled). */
export function checkVersionId(ctx: ObjectContext): void {
  const versionId = ctx.target.query.get('versionId');
  if (versionId !== undefined && versionId !== 'null') {
    throw new S3Error('NoSuchVersion', undefined, { extra: { Key: ctx.key, VersionId: versionId } });
  }
}

/**
 * Writes the status line, `headers` and bytes [start, end) of `obj` (start < end), and takes over
 * `obj`: the caller must not release it. Returns RESPONSE_ALREADY_SENT.
 */
export function sendObjectBytes(
  ctx: ObjectContext,
  obj: PinnedObject,
  status: number,
  headers: Record<string, string>,
  start: number,
  end: number,
): Response {
  const inline = obj.head.inline;
  if (inline) {
    // Already in memory: one write, no stream machinery (which costs more than a few KiB of body).
    try {
      const body = inline.subarray(start, end);
      ctx.state.bytesOut += body.length;
      ctx.res.writeHead(status, headers);
      ctx.res.end(body);
    } finally {
      obj.release();
    }
    return RESPONSE_ALREADY_SENT;
  }
  // Stream straight to the socket: backpressure and client aborts are handled by pipeline, and the
  // pin is released whatever happens.
  let source: Readable;
  try {
    ctx.res.writeHead(status, headers);
    const state = ctx.state;
    const counted = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        state.bytesOut += chunk.length;
        yield chunk;
      }
    };
    source = Readable.from(counted(obj.read(start, end)), { objectMode: false, highWaterMark: 1 });
  } catch (err) {
    obj.release();
    throw err;
  }
  pipeline(source, ctx.res)
    .catch((err: unknown) => {
      ctx.logger.warn({ err, requestId: ctx.state.requestId }, `${ctx.state.operation} stream ended early`);
    })
    .finally(() => obj.release());
  return RESPONSE_ALREADY_SENT;
}
