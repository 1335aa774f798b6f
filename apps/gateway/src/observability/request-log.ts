// One JSON log line per request, written when the response is finished or the socket closed, and
// the request's metrics recorded at the same moment (this is the one place that runs exactly once
// per finished request).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './logger.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { RequestState } from './request-state.ts';

export function logRequestWhenDone(
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
  metrics?: GatewayMetrics,
): void {
  let logged = false;
  const done = (): void => {
    if (logged) return;
    logged = true;
    const durationMs = Number(process.hrtime.bigint() - state.startedAtNs) / 1e6;
    const aborted = !res.writableFinished;
    // Responses no S3 handler counted (admin endpoints, errors answered whole): a finished
    // response with a body sent exactly its Content-Length.
    if (state.bytesOut === 0 && !aborted && req.method !== 'HEAD' && res.statusCode !== 304) {
      const length = Number(res.getHeader('content-length'));
      if (Number.isSafeInteger(length) && length > 0) state.bytesOut = length;
    }
    metrics?.record(state, res.statusCode, durationMs / 1000, aborted);
    const fields = {
      requestId: state.requestId,
      method: req.method,
      operation: state.operation,
      bucket: state.bucket,
      key: state.key,
      status: res.statusCode,
      errorCode: state.errorCode,
      bytesIn: state.bytesIn,
      bytesOut: state.bytesOut,
      durationMs: Math.round(durationMs * 1000) / 1000,
      aborted,
    };
    if (res.statusCode >= 500) logger.warn(fields, 'request');
    else logger.info(fields, 'request');
  };
  res.once('finish', done);
  res.once('close', done);
}
