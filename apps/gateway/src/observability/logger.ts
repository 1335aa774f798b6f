// The gateway's only log sink: pino JSON lines. Library code takes a Logger; nothing prints directly.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return destination
    ? pino({ level, base: { app: 'blobcache' } }, destination)
    : pino({ level, base: { app: 'blobcache' } });
}
