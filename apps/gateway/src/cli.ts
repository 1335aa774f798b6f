// `blobcache serve [--flags]`: config from env + flags, serve until SIGINT/SIGTERM, stop gracefully.
import { ConfigError, loadConfig, renderHelp } from './config.ts';
import { startGateway } from './gateway.ts';
import { createLogger } from './observability/logger.ts';

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
  const logger = createLogger(config.logLevel);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, { logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`blobcache: ${err.message}\n`);
      return 1;
    }
    logger.fatal({ err }, 'failed to start');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await gateway.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `blobcache: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
