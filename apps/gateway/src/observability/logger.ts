// The gateway's only log sink: pino JSON lines. Library code takes a Logger; nothing prints directly.
// Invariant: a line logged before a clean stop (or a fatal exit path that calls flushLogsSync) is
// written out. Lines are batched (asynchronous writes of >= LOG_MIN_WRITE_BYTES, or every
// LOG_FLUSH_INTERVAL_MS) instead of one synchronous write per line, which cost ~7% of GET CPU.
// Hazard: on kill -9 the lines still buffered (at most one flush interval's worth) are lost; the
// log is diagnostics, not data, so that is accepted. Hazard: if stdout stops draining, the buffer
// is capped at LOG_MAX_BUFFER_BYTES and later lines are dropped rather than growing memory.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export const LOG_MIN_WRITE_BYTES = 4096;
export const LOG_FLUSH_INTERVAL_MS = 250;
export const LOG_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

const options = (level: string) => ({ level, base: { app: 'blobcache' } });

export function createLogger(level: string, destination?: NodeJS.WritableStream | DestinationStream): Logger {
  if (destination) return pino(options(level), destination);
  const stdout = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_MIN_WRITE_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
    maxLength: LOG_MAX_BUFFER_BYTES,
  });
  return pino(options(level), stdout);
}

type Flushable = { flushSync?: () => void };

/** Writes every buffered line now, synchronously: for graceful stop and fatal exit paths. */
export function flushLogsSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, Flushable | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // A destination that is closed or not open yet has nothing left to write.
  }
}

/**
 * Logs one info line whatever the configured level (even `silent`) and flushes it at once: lines
 * that other processes wait for, such as the address a `--port 0` gateway listens on.
 */
export function announce(logger: Logger, fields: Record<string, unknown>, msg: string): void {
  logger.child({}, { level: 'info' }).info(fields, msg);
  logger.flush();
}
