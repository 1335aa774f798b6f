// The engine's side of the benchmark: puts with many in flight, hot gets (same process, right
// after the writes; the faster of two passes, as for every baseline's hot gets), cold gets (after close + reopen, so nothing is in a memtable), and key
// iteration. Every read is checked for length so a fast wrong answer cannot look good.

import assert from 'node:assert/strict';
import { BlobEngine, type EngineOptions } from '../src/index.ts';
import { faster, inFlight, type Measurement, timed } from './measure.ts';
import type { Workload } from './workload.ts';

export interface EngineResults {
  put: Measurement;
  getHot: Measurement;
  getCold: Measurement;
  iterate: Measurement;
}

export const PUT_DEPTH = 256;
export const GET_DEPTH = 64;

async function readAll(engine: BlobEngine, w: Workload): Promise<void> {
  await inFlight(w.keys.length, GET_DEPTH, async (j) => {
    const i = w.getOrder[j]!;
    const v = await engine.get(w.keys[i]!);
    assert(v !== undefined && v.length === w.valueBytes, `engine lost ${w.keys[i]!.toString()}`);
  });
}

/**
 * Cache mode: the put phase includes the final flush(), so the bytes have reached the OS like
 * LMDB's noSync commits and the raw write. Durable mode: every put resolves after fdatasync, so
 * the phase ends when the last put resolves (the flush that renames the WAL comes after).
 */
export async function benchEngine(dir: string, w: Workload, options: EngineOptions): Promise<EngineResults> {
  let engine = await BlobEngine.open(dir, options);
  const n = w.keys.length;
  const durable = options.durability !== 'cache';
  const put = await timed(n, w.totalBytes, async () => {
    await inFlight(n, PUT_DEPTH, (j) => {
      const i = w.putOrder[j]!;
      return engine.put(w.keys[i]!, w.value(i));
    });
    if (!durable) await engine.flush();
  });
  if (durable) await engine.flush();
  const getHot = faster(
    await timed(n, w.totalBytes, () => readAll(engine, w)),
    await timed(n, w.totalBytes, () => readAll(engine, w)),
  );
  await engine.close();
  engine = await BlobEngine.open(dir, options);
  const getCold = await timed(n, w.totalBytes, () => readAll(engine, w));
  let listed = 0;
  const iterate = await timed(n, 0, async () => {
    for await (const _e of engine.keys({})) listed++;
  });
  assert.equal(listed, n, 'engine key iteration count');
  await engine.close();
  return { put, getHot, getCold, iterate };
}
