// Writing a handler's Response to node:http directly (the fast path of server.ts, which skips
// @hono/node-server's Request/Response conversion for S3 requests).
// Invariants:
// - A Response built by responses.ts (`plainResponse`) leaves with one writeHead + one end.
// - Any other Response is sent with its status, every header and its body streamed with
//   backpressure; a client that goes away cancels the body stream.
// - RESPONSE_ALREADY_SENT (the handler wrote to `res` itself) writes nothing.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { plainPartsOf } from './responses.ts';

/** The marker header of RESPONSE_ALREADY_SENT (a copy of the adapter's may be a different object). */
const ALREADY_SENT_HEADER = 'x-hono-already-sent';
/** What @hono/node-server sends for a body without a content type; kept identical. */
const DEFAULT_CONTENT_TYPE = 'text/plain; charset=UTF-8';

export async function writeResponse(res: ServerResponse, r: Response): Promise<void> {
  if (r === RESPONSE_ALREADY_SENT) return;
  const plain = plainPartsOf(r);
  if (plain !== undefined) {
    res.writeHead(plain.status, plain.headers);
    if (plain.body === null) res.end();
    else res.end(plain.body);
    return;
  }
  if (r.headers.has(ALREADY_SENT_HEADER)) return;
  const headers: OutgoingHttpHeaders = {};
  r.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = r.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = r.body;
  if (body === null) {
    res.writeHead(r.status, headers);
    res.end();
    return;
  }
  headers['content-type'] ??= DEFAULT_CONTENT_TYPE;
  res.writeHead(r.status, headers);
  try {
    await pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), res);
  } catch (err) {
    // The client went away mid-body: nothing left to answer (a failing body stream is thrown).
    if ((err as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}
