// The node:http server around the Hono app.
// Invariants:
// - Every response carries `x-amz-request-id` (set here, before any handler runs) and produces one
//   log line.
// - A request sent with `Expect: 100-continue` is authenticated (and pre-checked) from its headers
//   BEFORE the client is told to send the body; a rejected one gets its error instead of
//   `100 Continue` and the connection is closed, because the unsent body would otherwise be read as
//   the next request.
// - Handlers see the raw `req.url` (Hono's `c.req.path` collapses `..` and decodes `%xx`, which
//   would both change S3 keys and break signatures).
// - S3 requests (every path outside `/_blobcache/`) skip Hono: they go straight to the S3 core
//   (`s3`) and its Response is written by s3/write-response.ts (see app.ts for the measured
//   reason). `/_blobcache/` paths (health, readiness, metrics, cache admin) go through the Hono app.
// - A request body the handler did not read to its end is drained after the response (bounded in
//   bytes and time, then the connection is closed), so it is never parsed as the next request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { S3Handler } from './app.ts';
import type { Logger } from './observability/logger.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import { logRequestWhenDone } from './observability/request-log.ts';
import { attachRequestState, type RequestState } from './observability/request-state.ts';
import { writeResponse } from './s3/write-response.ts';

/** What `checkContinue` decided: continue, or answer with this complete response. */
export type ContinueDecision =
  | { ok: true }
  | { ok: false; status: number; headers: Record<string, string>; body: string };

export type ServerHandlers = {
  logger: Logger;
  /** Records every finished request (with its log line). */
  metrics?: GatewayMetrics;
  /** The Hono app's fetch; the IncomingMessage is reachable as `env.incoming`. */
  fetch: (
    request: Request,
    env: { incoming: IncomingMessage; outgoing: ServerResponse },
  ) => Response | Promise<Response>;
  /** The S3 core, called directly (without Hono) for every path outside `/_blobcache/`. */
  s3?: S3Handler;
  /** Decides, from headers only, whether a `100 Continue` may be sent. */
  preflight: (req: IncomingMessage, state: RequestState) => Promise<ContinueDecision>;
  /** The response to send when a handler throws something unexpected. */
  internalError: (state: RequestState) => { status: number; headers: Record<string, string>; body: string };
  /** CORS (cors.ts): headers for requests from allowed origins, and the answer to a preflight. */
  cors?: {
    decorate(req: IncomingMessage, res: ServerResponse): void;
    preflight(
      req: IncomingMessage,
      state: RequestState,
    ): { status: number; headers: Record<string, string>; body: string };
  };
};

export function createGatewayServer(h: ServerHandlers): Server {
  // Handler errors are turned into S3 XML by the Hono app's onError; the adapter's own fallbacks
  // (400 for an unparsable request line, 500) only cover what never reaches the app.
  const listener = getRequestListener(h.fetch as Parameters<typeof getRequestListener>[0]);

  const begin = (req: IncomingMessage, res: ServerResponse): RequestState => {
    const state = attachRequestState(req);
    res.setHeader('x-amz-request-id', state.requestId);
    res.setHeader('x-amz-id-2', state.requestId);
    res.setHeader('server', 'blobcache');
    if (req.headers.origin !== undefined && req.method !== 'OPTIONS') h.cors?.decorate(req, res);
    logRequestWhenDone(h.logger, req, res, state, h.metrics);
    return state;
  };

  const sendComplete = (
    res: ServerResponse,
    r: { status: number; headers: Record<string, string>; body: string },
    close: boolean,
  ): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string | number> = { ...r.headers };
    if (close) headers.connection = 'close';
    const body = r.body === '' ? undefined : Buffer.from(r.body);
    headers['content-length'] = body?.length ?? 0;
    res.writeHead(r.status, headers);
    res.end(body);
  };

  const s3 = h.s3;
  const run = (req: IncomingMessage, res: ServerResponse, state: RequestState): void => {
    if (s3 === undefined || (req.url ?? '/').startsWith(FRAMEWORK_PATH_PREFIX)) {
      listener(req, res).catch((err: unknown) => {
        h.logger.error({ err, requestId: state.requestId }, 'request listener failed');
        sendComplete(res, h.internalError(state), true);
      });
      return;
    }
    if (req.method === 'OPTIONS' && h.cors) {
      // A CORS preflight: browsers send it unsigned, and it never reaches the S3 handlers.
      state.operation = 'CorsPreflight';
      res.once('finish', () => {
        if (!req.readableEnded) drainRequestBody(req);
      });
      sendComplete(res, h.cors.preflight(req, state), false);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.once('finish', () => {
        if (!req.readableEnded) drainRequestBody(req);
      });
    }
    s3(req, res)
      .then((response) => writeResponse(res, response))
      .catch((err: unknown) => {
        h.logger.error({ err, requestId: state.requestId }, 'request failed');
        sendComplete(res, h.internalError(state), true);
      });
  };

  const server = createServer({
    // Large uploads may legitimately take long; the header timeout still bounds idle connections.
    requestTimeout: 0,
    headersTimeout: 60_000,
    keepAliveTimeout: 5_000,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    run(req, res, begin(req, res));
  });
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const state = begin(req, res);
    h.preflight(req, state).then(
      (decision) => {
        if (decision.ok) {
          res.writeContinue();
          run(req, res, state);
        } else {
          sendComplete(res, decision, true);
        }
      },
      (err: unknown) => {
        h.logger.error({ err, requestId: state.requestId }, 'preflight failed');
        sendComplete(res, h.internalError(state), true);
      },
    );
  });
  // Node answers any other `Expect` value with 417; S3 ignores expectations it does not know.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    run(req, res, begin(req, res));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    h.logger.debug({ err: err.message, code: err.code }, 'client error');
    if (socket.writable && err.code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    } else socket.destroy();
  });
  return server;
}

/** Paths served by the Hono app (everything else is S3 and takes the fast path). */
const FRAMEWORK_PATH_PREFIX = '/_blobcache/';
/**
 * An unread request body is discarded for at most this long / this many bytes, then the connection
 * closes. (@hono/node-server allows 500 ms; a client on a loaded machine can take longer to send
 * the rest of a small body, and a connection waiting costs little.)
 */
const DRAIN_TIMEOUT_MS = 2_000;
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Discards the rest of a request body after its response was sent (as @hono/node-server does for
 * the requests it serves). Hazard: an unread body left in a paused stream stalls the connection.
 */
function drainRequestBody(req: IncomingMessage): void {
  if (req.destroyed) return;
  let bytes = 0;
  const cleanup = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', cleanup);
    req.off('error', cleanup);
  };
  const forceClose = (): void => {
    cleanup();
    const socket = req.socket;
    if (socket && !socket.destroyed) socket.destroySoon();
  };
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes > MAX_DRAIN_BYTES) forceClose();
  };
  const timer = setTimeout(forceClose, DRAIN_TIMEOUT_MS);
  timer.unref();
  req.on('data', onData);
  req.on('end', cleanup);
  req.on('error', cleanup);
  req.resume();
}

export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then cuts the
 * remaining connections.
 */
export async function stopServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
