// Index memory and key-iteration benchmark, run as its own process with --expose-gc so heap
// numbers are not polluted by the throughput cases.
//
// Prints one JSON line: items, heap/external/RSS deltas per item after 1 M small puts in cache
// mode (after a warm-up that allocates memtable slabs, so slabs are not counted as index), the
// engine's key-iteration time (keys() with for await, and keysSync()), and LMDB's key-iteration time over the same keys.
//
// argv: <dir> <items>

import assert from 'node:assert/strict';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { BlobEngine } from '../src/index.ts';
import { inFlight } from './measure.ts';

const [dir, itemsArg] = process.argv.slice(2);
assert(dir !== undefined && itemsArg !== undefined, 'usage: memory.ts <dir> <items>');
const items = Number(itemsArg);
const gc = (globalThis as { gc?: () => void }).gc;
assert(gc !== undefined, 'run with node --expose-gc');

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

const VALUE = Buffer.alloc(32, 7);
const WARMUP = 20_000;
const key = (i: number): Buffer =>
  Buffer.from(`mem/${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16)}/${i}`);

const engineDir = path.join(dir, 'engine');
// readCacheBytes 0: the read cache of flushed slabs is a separate, explicitly bounded budget
// (stats().readCacheBytes), not index memory; left on, it would add its budget to the delta.
const engine = await BlobEngine.open(engineDir, {
  durability: 'cache',
  memtableBytes: 8 * 1024 * 1024,
  readCacheBytes: 0,
});
await inFlight(WARMUP, 256, (i) => engine.put(key(items + i), VALUE));
await engine.flush();
const before = settle();
const t0 = process.hrtime.bigint();
await inFlight(items, 256, (i) => engine.put(key(i), VALUE));
await engine.flush();
const putMs = Number(process.hrtime.bigint() - t0) / 1e6;
const after = settle();
const indexMemoryBytes = engine.stats().indexMemoryBytes;

let listed = 0;
const t1 = process.hrtime.bigint();
for await (const _e of engine.keys({})) listed++;
const iterateMs = Number(process.hrtime.bigint() - t1) / 1e6;
assert.equal(listed, items + WARMUP, 'engine listed every key');

let listedSync = 0;
const t3 = process.hrtime.bigint();
for (const _e of engine.keysSync({})) listedSync++;
const iterateSyncMs = Number(process.hrtime.bigint() - t3) / 1e6;
assert.equal(listedSync, items + WARMUP, 'engine listed every key (keysSync)');
await engine.close();

const lmdb = openLmdb<Buffer, Buffer>({
  path: path.join(dir, 'lmdb'),
  keyEncoding: 'binary',
  encoding: 'binary',
  compression: false,
  noSync: true,
});
const total = items + WARMUP;
for (let start = 0; start < total; start += 10_000) {
  lmdb.transactionSync(() => {
    for (let i = start; i < Math.min(total, start + 10_000); i++) lmdb.putSync(key(i), VALUE);
  });
}
let lmdbListed = 0;
const t2 = process.hrtime.bigint();
for (const _k of lmdb.getKeys()) lmdbListed++;
const lmdbIterateMs = Number(process.hrtime.bigint() - t2) / 1e6;
assert.equal(lmdbListed, total);
await lmdb.close();

process.stdout.write(
  `${JSON.stringify({
    items,
    listed,
    putMs,
    heapBytesPerItem: (after.heapUsed - before.heapUsed) / items,
    externalBytesPerItem: (after.external - before.external) / items,
    rssBytesPerItem: (after.rss - before.rss) / items,
    engineReportedIndexBytesPerItem: indexMemoryBytes / (items + WARMUP),
    iterateMs,
    iterateSyncMs,
    lmdbIterateMs,
  })}\n`,
);
