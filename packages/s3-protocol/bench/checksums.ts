// Informal throughput benchmark for the hot-path hashers: `node packages/s3-protocol/bench/checksums.ts`.
// Prints MB/s per algorithm over 64 MiB fed in 64 KiB pieces; asserts nothing.

import { randomBytes } from 'node:crypto';
import { CHECKSUM_ALGORITHMS, createHasher, type HashAlgorithm } from '../src/checksums/hashers.ts';

const PIECE_BYTES = 64 * 1024;
const TOTAL_BYTES = 64 * 1024 * 1024;
const piece = randomBytes(PIECE_BYTES);

for (const algorithm of [...CHECKSUM_ALGORITHMS, 'MD5'] as HashAlgorithm[]) {
  const h = createHasher(algorithm);
  // Warm up the JIT before timing.
  for (let i = 0; i < 64; i++) h.update(piece);
  const timed = createHasher(algorithm);
  const start = process.hrtime.bigint();
  for (let done = 0; done < TOTAL_BYTES; done += PIECE_BYTES) timed.update(piece);
  timed.digest();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(`${algorithm.padEnd(10)} ${(TOTAL_BYTES / 1024 / 1024 / seconds).toFixed(0)} MB/s\n`);
}
