// Focused durable-put benchmark for profiling the write path: the engine's durable puts (256 in
// flight) and LMDB synced transactions of 256 on the same workload, back to back, N rounds.
// Usage: node bench/durable-focus.ts [sizeLabel=1KiB|64KiB|1MiB] [rounds=1] [engineOnly=0]
// Prints one line per measurement plus the engine's WAL sync count (puts per fdatasync).

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlobEngine } from '../src/index.ts';
import { benchLmdb } from './baselines.ts';
import { PUT_DEPTH } from './engine-cases.ts';
import { formatRate, inFlight, opsPerSec, timed } from './measure.ts';
import { makeWorkload } from './workload.ts';

const KiB = 1024;
const CASES: Record<string, [number, number]> = {
  '1KiB': [KiB, 65_536],
  '64KiB': [64 * KiB, 2048],
  '1MiB': [1024 * KiB, 128],
};
const label = process.argv[2] ?? '1KiB';
const rounds = Number(process.argv[3] ?? 1);
const engineOnly = process.argv[4] === '1';
const [bytes, count] = CASES[label] ?? CASES['1KiB']!;
const w = makeWorkload(label, bytes, count, 4242);
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'durable-focus-'));
try {
  for (let r = 0; r < rounds; r++) {
    const dir = path.join(root, `e${r}`);
    const engine = await BlobEngine.open(dir, { durability: 'durable' });
    const elu0 = performance.eventLoopUtilization();
    const m = await timed(count, w.totalBytes, () =>
      inFlight(count, PUT_DEPTH, (j) => {
        const i = w.putOrder[j]!;
        return engine.put(w.keys[i]!, w.value(i));
      }),
    );
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const st = engine.stats();
    await engine.close();
    await fs.rm(dir, { recursive: true, force: true });
    let line = `${label} engine durable ${formatRate(m)} walSyncs ${st.walSyncs} (${(count / st.walSyncs).toFixed(1)} puts/sync), main thread busy ${(elu * 100).toFixed(0)}%`;
    if (!engineOnly) {
      const ldir = path.join(root, `l${r}`);
      await fs.mkdir(ldir);
      const l = await benchLmdb(ldir, w, 256, true);
      await fs.rm(ldir, { recursive: true, force: true });
      line += ` | lmdb synced ${formatRate(l.put)} | ratio ${(opsPerSec(m) / opsPerSec(l.put)).toFixed(2)}x`;
    }
    process.stdout.write(`${line}\n`);
  }
} finally {
  await fs.rm(root, { recursive: true, force: true });
}
