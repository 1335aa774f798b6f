// Measures what a test suite pays for an in-process S3: loading the gateway's modules once, then
// startTestServer() → stop() per round (fresh temp dir each time). A benchmark, not a test: speed is
// reported here and never asserted. Usage: node apps/gateway/src/testing/measure-start.ts [rounds]
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

const rounds = Number(process.argv[2] ?? 20);
assert(Number.isInteger(rounds) && rounds > 0 && rounds <= 1000, 'rounds: an integer in 1..1000');

const t0 = performance.now();
const { startTestServer } = await import('../test-server.ts');
const importMs = performance.now() - t0;

const startMs: number[] = [];
const stopMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const a = performance.now();
  const server = await startTestServer();
  const b = performance.now();
  await server.stop();
  startMs.push(b - a);
  stopMs.push(performance.now() - b);
}

const fmt = (xs: number[]): string => {
  const s = [...xs].sort((x, y) => x - y);
  const at = (q: number): string => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0).toFixed(1);
  return `first ${(xs[0] ?? 0).toFixed(1)} p50 ${at(0.5)} p90 ${at(0.9)} max ${at(1)} ms`;
};
process.stdout.write(
  `module import ${importMs.toFixed(0)} ms (once per process)\n` +
    `startTestServer ${fmt(startMs)} (${rounds} rounds)\n` +
    `stop (incl. temp dir removal) ${fmt(stopMs)}\n`,
);
