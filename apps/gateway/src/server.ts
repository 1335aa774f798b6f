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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from './observability/logger.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import { logRequestWhenDone } from './observability/request-log.ts';
import { attachRequestState, type RequestState } from './observability/request-state.ts';

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
  /** Decides, from headers only, whether a `100 Continue` may be sent. */
  preflight: (req: IncomingMessage, state: RequestState) => Promise<ContinueDecision>;
  /** The response to send when a handler throws something unexpected. */
  internalError: (state: RequestState) => { status: number; headers: Record<string, string>; body: string };
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

  const run = (req: IncomingMessage, res: ServerResponse, state: RequestState): void => {
    listener(req, res).catch((err: unknown) => {
      h.logger.error({ err, requestId: state.requestId }, 'request listener failed');
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
