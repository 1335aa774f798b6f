// `blobcache serve [--flags]`: config from env + flags, serve until SIGINT/SIGTERM, stop gracefully.
// Stop: the first SIGTERM/SIGINT stops accepting and lets in-flight requests finish for up to
// shutdownGraceMs, then the store is flushed and closed and the process exits 0. A second signal
// cuts the requests still in flight at once, but the store is still closed cleanly (exit 0): the
// handlers stay installed until the process ends, so no later signal can kill it halfway through
// closing the engine. (Even a kill -9 there loses nothing acknowledged: the engine is crash-only;
// it only makes the next start replay the WAL.) A signal that arrives before the gateway listens
// (during a long recovery, which logs its progress) ends the process at once with 128 + the
// signal number, safely for the same reason; the next start resumes the recovery.
// Hazard: that early handler is not optional. In a container `node` is PID 1, and the kernel
// ignores a signal PID 1 has no handler for, so without it `docker stop` during a long recovery
// would wait out its whole timeout and then SIGKILL.
import { constants as osConstants } from 'node:os';
import { ConfigError, loadConfig, renderHelp } from './config.ts';
import { startGateway } from './gateway.ts';
import { createLogger, flushLogsSync, type Logger } from './observability/logger.ts';

// Set once the logger exists, so every exit path can write out its buffered lines.
let logger: Logger | undefined;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === undefined ||
    command === '--help' ||
    command === '-h' ||
    command === 'help' ||
    rest.includes('--help')
  ) {
    process.stdout.write(renderHelp());
    return command === undefined ? 1 : 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`blobcache: unknown command "${command}"\n\n${renderHelp()}`);
    return 1;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(rest, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`blobcache: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  logger = log;
  const stopWhileStarting = (signal: NodeJS.Signals): void => {
    log.warn({ signal }, 'signal while starting: exiting before serving');
    flushLogsSync(log);
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  };
  process.on('SIGINT', stopWhileStarting);
  process.on('SIGTERM', stopWhileStarting);
  log.debug({ dataDir: config.dataDir }, 'blobcache starting');
  flushLogsSync(log);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, { logger: log });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`blobcache: ${err.message}\n`);
      return 1;
    }
    log.fatal({ err }, 'failed to start');
    return 1;
  } finally {
    process.off('SIGINT', stopWhileStarting);
    process.off('SIGTERM', stopWhileStarting);
  }
  let signals = 0;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      signals++;
      if (signals === 1) {
        log.info({ signal }, 'shutting down');
        resolve();
      } else {
        log.warn({ signal, signals }, 'signal during shutdown: cutting in-flight requests now');
        void gateway.close({ graceMs: 0 });
      }
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await gateway.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (logger) flushLogsSync(logger);
    process.exitCode = code;
  },
  (err: unknown) => {
    if (logger) flushLogsSync(logger);
    process.stderr.write(
      `blobcache: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
