// Informal throughput benchmark for the hot-path hashers: `node packages/s3-protocol/bench/checksums.ts`.
// Prints MB/s per algorithm over 64 MiB fed in 64 KiB pieces; asserts nothing. The dev machine is
// shared: each figure is the best of five rounds in CPU time (not wall time), so other processes'
// load moves it less.

import { randomBytes } from 'node:crypto';
import { CHECKSUM_ALGORITHMS, createHasher, type HashAlgorithm } from '../src/checksums/hashers.ts';

const PIECE_BYTES = 64 * 1024;
const TOTAL_BYTES = 64 * 1024 * 1024;
const ROUNDS = 5;
const piece = randomBytes(PIECE_BYTES);

for (const algorithm of [...CHECKSUM_ALGORITHMS, 'MD5'] as HashAlgorithm[]) {
  const h = createHasher(algorithm);
  // Warm up the JIT before timing.
  for (let i = 0; i < 64; i++) h.update(piece);
  let bestSeconds = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const timed = createHasher(algorithm);
    const cpu = process.cpuUsage();
    for (let done = 0; done < TOTAL_BYTES / ROUNDS; done += PIECE_BYTES) timed.update(piece);
    timed.digest();
    const used = process.cpuUsage(cpu);
    bestSeconds = Math.min(bestSeconds, (used.user + used.system) / 1e6);
  }
  const mb = TOTAL_BYTES / ROUNDS / 1024 / 1024;
  process.stdout.write(`${algorithm.padEnd(10)} ${(mb / bestSeconds).toFixed(0)} MB/s\n`);
}
