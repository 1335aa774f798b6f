// s3rver 3.7.1 as the comparison S3 implementation, in its own process.
// Usage: node --openssl-legacy-provider s3rver-server.ts <dir> <bucket>...
// (the legacy provider: its ListObjectsV2 tokens use DES). Prints {"port": N} once listening;
// SIGTERM closes it. s3rver throws from deep inside its request
// handling on some inputs: those are counted on stderr instead of killing the process mid-case.
import { createRequire } from 'node:module';

// s3rver ships no types: the three members used here.
const S3rver = createRequire(import.meta.url)('s3rver') as new (
  options: Record<string, unknown>,
) => { run(): Promise<{ port: number }>; close(): Promise<void> };

const [dir, ...buckets] = process.argv.slice(2);
if (dir === undefined) throw new Error('usage: s3rver-server.ts <dir> <bucket>...');

let uncaught = 0;
process.on('uncaughtException', (err) => {
  uncaught++;
  if (uncaught <= 5) process.stderr.write(`s3rver uncaught exception: ${err.stack ?? err.message}\n`);
});

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
});
const addr = await server.run();
process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
process.on('SIGTERM', () => {
  if (uncaught > 0) process.stderr.write(`s3rver: ${uncaught} uncaught exceptions in total\n`);
  server.close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
});
