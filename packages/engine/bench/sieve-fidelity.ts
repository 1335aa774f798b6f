// SIEVE fidelity: replays a deterministic Zipf(s=1) read trace on the engine alone (cache mode,
// onFull 'evict'; a miss is followed by a put of the value, as a read-through cache does) and
// prints the engine's hit ratio next to an exact SIEVE model holding as many items as the
// budget has room for. The gap is what the engine loses to things SIEVE does not do (unflushed
// memtables, eviction hysteresis, space reclamation dropping live items).
// Bounded: 10 000 reads over 1000 keys of 16 KiB per budget, data in temp dirs removed at the end.
//
// Usage: node bench/sieve-fidelity.ts   (SIEVE_READS, SIEVE_KEYS, SIEVE_VALUE_KIB, SIEVE_BUDGETS_MIB=1,2,4,8)

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BlobEngine } from '../src/engine.ts';
import { recordBytes } from '../src/record.ts';
import { sieveHitRatio, zipfTrace } from './sieve-model.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const READS = Number(process.env.SIEVE_READS ?? 10_000);
const KEYS = Number(process.env.SIEVE_KEYS ?? 1000);
const VALUE_BYTES = Number(process.env.SIEVE_VALUE_KIB ?? 16) * KiB;
/** Yield to the event loop after each put (background flushes and reclamation keep up). */
const YIELD = process.env.SIEVE_YIELD === '1';
const BUDGETS = (process.env.SIEVE_BUDGETS_MIB ?? '1,2,4,8').split(',').map((s) => Number(s) * MiB);

const keyOf = (rank: number): string => `zipf/${String(rank).padStart(6, '0')}`;

interface EngineRun {
  ratio: number;
  evictions: number;
  /** Items that left without being SIEVE victims (dropped with a drained segment). */
  lost: number;
  compactions: number;
  peakDiskBytes: number;
}

async function engineRun(trace: readonly number[], maxBytes: number): Promise<EngineRun> {
  const dir = await mkdtemp(join(tmpdir(), 'blobengine-sieve-'));
  try {
    const e = await BlobEngine.open(dir, { durability: 'cache', onFull: 'evict', maxBytes });
    const value = Buffer.alloc(VALUE_BYTES, 7);
    let hits = 0;
    let puts = 0;
    let peakDiskBytes = 0;
    for (const rank of trace) {
      const got = await e.get(keyOf(rank));
      if (got) {
        if (got.length !== VALUE_BYTES) throw new Error(`wrong length for ${keyOf(rank)}`);
        hits++;
        continue;
      }
      await e.put(keyOf(rank), value);
      puts++;
      if (YIELD) await yieldToLoop();
      if (puts % 64 === 0) peakDiskBytes = Math.max(peakDiskBytes, e.stats().diskBytes);
    }
    const s = e.stats();
    await e.close();
    return {
      ratio: hits / trace.length,
      evictions: s.evictions,
      lost: puts - s.evictions - s.items,
      compactions: s.compactions,
      peakDiskBytes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const trace = zipfTrace(KEYS, READS, 42);
const itemBytes = recordBytes(Buffer.byteLength(keyOf(0)), VALUE_BYTES);
const out = [
  `## SIEVE fidelity: ${READS} Zipf(s=1) reads over ${KEYS} keys of ${VALUE_BYTES / KiB} KiB (engine alone, cache mode)`,
  '',
  '| Budget | Items that fit | SIEVE model | Engine | Gap | Evictions | Items lost outside SIEVE | Merges | Peak disk (sampled) |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const budget of BUDGETS) {
  const capacity = Math.floor(budget / itemBytes);
  const model = sieveHitRatio(trace, capacity);
  const r = await engineRun(trace, budget);
  out.push(
    `| ${budget / MiB} MiB | ${capacity} | ${model.toFixed(3)} | ${r.ratio.toFixed(3)} | ${(r.ratio - model).toFixed(3)} | ${r.evictions} | ${r.lost} | ${r.compactions} | ${(r.peakDiskBytes / MiB).toFixed(2)} MiB |`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
