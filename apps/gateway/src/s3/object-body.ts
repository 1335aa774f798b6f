// Sending an object's bytes (GetObject, GetObject ?partNumber). Invariant: the pinned object handed
// to `sendObjectBytes` is released exactly once, after its last byte was written or the client went
// away; a small (inline) object is written with one `end()` and released at once. Chunks arrive in
// pooled buffers (PinnedObject.lend): each goes back from its socket write's callback, i.e. once the
// kernel has the bytes (or the write failed), never while the socket may still read them; a chunk
// not written (client gone) goes back at once.
import type { ServerResponse } from 'node:http';
import { S3Error } from '@blobcache/s3-protocol';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { LentChunk } from '../store/chunk-reader.ts';
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
  // Stream straight to the socket: one res.write per chunk, waiting for 'drain' when the socket
  // buffer is full (backpressure), stopping when the client goes away; the pin is released
  // whatever happens. (A Readable.from + pipeline per response cost more than it did here.)
  try {
    ctx.res.writeHead(status, headers);
  } catch (err) {
    obj.release();
    throw err;
  }
  streamChunks(ctx, obj.lend(start, end))
    .catch((err: unknown) => {
      // Headers are out: the only way left to say "failed" is to cut the connection.
      ctx.res.destroy();
      ctx.logger.warn({ err, requestId: ctx.state.requestId }, `${ctx.state.operation} stream ended early`);
    })
    .finally(() => obj.release());
  return RESPONSE_ALREADY_SENT;
}

/** Resolves true on 'drain', false once the response is closed (client gone or destroyed). */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function streamChunks(ctx: ObjectContext, chunks: AsyncGenerator<LentChunk>): Promise<void> {
  const res = ctx.res;
  const state = ctx.state;
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) {
        chunk.release();
        return;
      }
      state.bytesOut += chunk.bytes.length;
      // Hazard: the socket keeps reading the buffer after write() returns; only the callback says
      // it is done. (If the response dies first the callback may never run: the buffer is then
      // just not reused.)
      const written = res.write(chunk.bytes, () => chunk.release());
      if (!written && !(await drained(res))) return;
    }
    res.end();
  } finally {
    // Early exits (client gone): stop the reader so its read-ahead settles.
    await chunks.return(undefined);
  }
}
