// Graceful stop of the HTTP server. Invariant: once draining starts no new connection is accepted,
// every request already received may finish for up to the grace period (its response then closes
// its connection instead of keeping it alive), and after the grace period (or at once, when asked
// again: a second signal) the remaining connections are cut. The store is closed only after this,
// by the caller.
// Hazard: node's server.close() waits for kept-alive connections to time out on their own
// (keepAliveTimeout) after their last response: without closing them as soon as they fall idle, a
// drained gateway would linger that long for nothing.
// Hazard: a request cut at the end of the grace period may still be cleaning up (an aborted PUT
// discarding its chunks) when the caller closes the store: that cleanup then fails on the closed
// engine and its write intent is replayed at the next start instead (crash-only recovery).
import assert from 'node:assert';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './observability/logger.ts';

export type InFlight = {
  /** Responses not yet finished or closed. */
  readonly count: number;
  /** Starts draining: see the invariant above. Idempotent (later calls return the same drain). */
  drain(graceMs: number): Drain;
};

export type Drain = {
  /** Resolves once every connection is closed (finished or cut). */
  readonly done: Promise<DrainResult>;
  /** Ends the grace period now: in-flight requests are cut. */
  cutNow(): void;
};

export type DrainResult = { finished: number; cut: number };

/** Starts counting the server's requests; call right after creating it (before it listens). */
export function trackInFlight(server: Server, logger: Logger): InFlight {
  const open = new Set<ServerResponse>();
  let drain: Drain | undefined;
  let finished = 0;
  const sweep = (): void => {
    // The socket becomes idle only after the response's own 'finish' handling: next turn.
    setImmediate(() => server.closeIdleConnections());
  };
  const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      if (drain && res.writableFinished) finished++;
    });
    if (drain) leaveAfter(res);
  };
  const leaveAfter = (res: ServerResponse): void => {
    // Headers not sent yet: they say `Connection: close` and node closes the socket after them.
    if (!res.headersSent) res.shouldKeepAlive = false;
    res.once('finish', sweep);
  };
  // Hazard: node answers `Expect` itself only while nobody listens for these events; a listener
  // added here alone would leave such requests unanswered. The server's handlers must exist first.
  for (const event of ['request', 'checkContinue', 'checkExpectation']) {
    assert(server.listenerCount(event) > 0, `trackInFlight: the server has no '${event}' handler yet`);
  }
  // prepend: runs before the handlers, so a request received while draining never keeps alive
  server.prependListener('request', onRequest);
  server.prependListener('checkContinue', onRequest);
  server.prependListener('checkExpectation', onRequest);

  return {
    get count() {
      return open.size;
    },
    drain(graceMs: number): Drain {
      if (drain) return drain;
      let timer: NodeJS.Timeout | undefined;
      let cut = 0;
      const cutAll = (why: string): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (open.size === 0) return;
        cut += open.size;
        logger.warn({ inFlight: open.size, reason: why }, 'cutting in-flight requests');
        server.closeAllConnections();
      };
      const done = new Promise<DrainResult>((resolve) => {
        server.close(() => {
          if (timer) clearTimeout(timer);
          resolve({ finished, cut });
        });
      });
      for (const res of open) leaveAfter(res);
      server.closeIdleConnections();
      logger.info(
        { inFlight: open.size, graceMs },
        'stopped accepting connections; draining in-flight requests',
      );
      timer = setTimeout(() => cutAll('shutdown grace period over'), graceMs);
      timer.unref();
      drain = { done, cutNow: () => cutAll('asked to stop now') };
      return drain;
    },
  };
}
