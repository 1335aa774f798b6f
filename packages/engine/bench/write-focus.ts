// Focused write benchmark for profiling: the engine's puts (256 in flight) in cache or durable
// mode, N rounds, each in a fresh directory; cache rounds include the final flush().
// Usage: node bench/write-focus.ts [cache|durable] [1KiB|64KiB|1MiB] [rounds=3] [steady] [maxIdleSlabs=N]
//   steady: every round writes into ONE engine whose read cache holds 2 memtables, so after the
//     first round new memtables can reuse flushed slabs (slabpool.ts); a fresh engine per round
//     (the default) allocates every slab cold.
//   maxIdleSlabs=N: the engine option (0 turns slab recycling off, for before/after runs).
//   readCacheBytes=N: the engine option (the gateway's engines use 32 MiB), overrides steady's.
// Prints one line per round: throughput, main-thread busy share and CPU (each round writes the
// same total, 128 MiB for 64KiB and 1MiB), WAL puts per fdatasync, slabs reused.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlobEngine } from '../src/index.ts';
import { PUT_DEPTH } from './engine-cases.ts';
import { formatRate, inFlight, timed } from './measure.ts';
import { makeWorkload } from './workload.ts';

const KiB = 1024;
const CASES: Record<string, [number, number]> = {
  '1KiB': [KiB, 65_536],
  '64KiB': [64 * KiB, 2048],
  '1MiB': [1024 * KiB, 128],
};
const mode = process.argv[2] === 'durable' ? 'durable' : 'cache';
const label = process.argv[3] ?? '64KiB';
const rounds = Number(process.argv[4] ?? 3);
const flags = process.argv.slice(5);
const steady = flags.includes('steady');
const idleFlag = flags.find((f) => f.startsWith('maxIdleSlabs='));
const cacheFlag = flags.find((f) => f.startsWith('readCacheBytes='));
/** The engine's default memtable size (the steady read cache holds two of them). */
const MEMTABLE_BYTES = 32 * 1024 * KiB;
const engineOptions = {
  durability: mode,
  ...(steady ? { readCacheBytes: 2 * MEMTABLE_BYTES } : {}),
  ...(idleFlag ? { maxIdleSlabs: Number(idleFlag.split('=')[1]) } : {}),
  ...(cacheFlag ? { readCacheBytes: Number(cacheFlag.split('=')[1]) } : {}),
} as const;
const [bytes, count] = CASES[label] ?? CASES['64KiB']!;
const w = makeWorkload(label, bytes, count, 4242);
/** CPU time of the main thread in ms (Linux schedstat; undefined elsewhere): unlike wall time, not inflated by other processes on a shared machine. */
async function mainThreadCpuMs(): Promise<number | undefined> {
  try {
    const text = await fs.readFile(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
    return Number(text.split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'write-focus-'));
try {
  let shared: BlobEngine | undefined;
  for (let r = 0; r < rounds; r++) {
    const dir = path.join(root, steady ? 'steady' : `e${r}`);
    shared ??= steady ? await BlobEngine.open(dir, engineOptions) : undefined;
    const engine = shared ?? (await BlobEngine.open(dir, engineOptions));
    const reused0 = reusedSlabs(engine);
    let flushMs = 0;
    const cpu0 = await mainThreadCpuMs();
    const proc0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const m = await timed(count, w.totalBytes, async () => {
      await inFlight(count, PUT_DEPTH, (j) => {
        const i = w.putOrder[j]!;
        return engine.put(w.keys[i]!, w.value(i));
      });
      const f0 = performance.now();
      if (mode === 'cache') await engine.flush();
      flushMs = performance.now() - f0;
    });
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu1 = await mainThreadCpuMs();
    const proc = process.cpuUsage(proc0);
    const procMs = (proc.user + proc.system) / 1000;
    const cpu =
      cpu0 === undefined || cpu1 === undefined ? '' : `, main thread CPU ${(cpu1 - cpu0).toFixed(0)} ms`;
    const st = engine.stats();
    const reused = reusedSlabs(engine) - reused0;
    if (!steady) {
      await engine.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
    const perSync = st.walSyncs > 0 ? `, ${(count / st.walSyncs).toFixed(1)} puts/sync` : '';
    const slabs = Number.isNaN(reused) ? '' : `, ${reused} slabs reused`;
    process.stdout.write(
      `${mode} ${label}${steady ? ' steady' : ''} ${formatRate(m)} ${m.ms.toFixed(0)} ms (final flush ${flushMs.toFixed(0)} ms), main thread busy ${(elu * 100).toFixed(0)}%${cpu}, process CPU ${procMs.toFixed(0)} ms${perSync}${slabs}\n`,
    );
  }
  await shared?.close();
} finally {
  await fs.rm(root, { recursive: true, force: true });
}

/** stats().slabsReused (NaN on an engine without slab recycling: before/after runs). */
function reusedSlabs(e: BlobEngine): number {
  return Number((e.stats() as { slabsReused?: number }).slabsReused);
}
