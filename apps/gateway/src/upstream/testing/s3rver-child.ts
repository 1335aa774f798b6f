// Test support: hosts s3rver (a third-party S3 implementation) in its own process, so it can run
// with `--openssl-legacy-provider` (its ListObjectsV2 tokens use DES) and so a test can kill it.
// Prints `{"port":N}` on its IPC channel once listening. Used only by upstream tests.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<{ port: number }> };

// Some malformed requests crash s3rver from inside Koa; keep the process (and the test) alive.
process.on('uncaughtException', (err) => {
  process.send?.({ uncaught: String(err) });
});

const directory = process.argv[2];
if (!directory) throw new Error('usage: s3rver-child.ts <directory>');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
server.run().then(
  (addr) => process.send?.({ port: addr.port }),
  (err: unknown) => {
    process.send?.({ error: String(err) });
    process.exit(1);
  },
);
