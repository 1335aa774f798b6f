// Kill -9 test: a child keeps 128 puts/deletes in flight (and calls flush() now and then) and is
// SIGKILLed at random moments, some while it is still recovering from the previous kill; after
// each kill the directory is reopened here and every key is checked. The same directory is
// reused across rounds, so recovery of a recovered store is exercised.
// Durable mode: every acknowledged op must survive. Cache mode: every op acknowledged before a
// flush() that completed must survive, and so must an acknowledged delete of flushed data; later
// ones may be lost, but nothing older than the guaranteed state may reappear and no byte may be
// wrong. See crash-harness.ts for the rule.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  flushedBefore,
  flushedWatermark,
  type IssuedOp,
  type KeyState,
  type RoundLog,
  runChildRound,
  verifyAfterCrash,
} from './crash-harness.ts';
import { Rng } from './model.ts';

const KEY_COUNT = 1200;
const IN_FLIGHT = 128;
const MAX_VALUE_BYTES = 3 * 1024 * 1024;
const INLINE_BYTES = 4096;
const PREFIXES = ['a/', 'a/b/', 'z\u00e9/', '\u4e2d/', '\u{1f600}/', 'b/k0001'];

const MODES = [
  { durability: 'durable', maxBytes: 0, minRounds: 20, maxRounds: 28, budgetMs: 45_000, flushEveryMs: 400 },
  { durability: 'cache', maxBytes: 0, minRounds: 8, maxRounds: 12, budgetMs: 10_000, flushEveryMs: 150 },
  // Far more live data than an 8 MiB cache holds: SIEVE eviction and drains run all the time.
  {
    durability: 'cache',
    maxBytes: 8 * 1024 * 1024,
    minRounds: 8,
    maxRounds: 12,
    budgetMs: 10_000,
    flushEveryMs: 150,
  },
] as const;

for (const mode of MODES) {
  // Small memtables so every round rotates, renames WAL files into segments and flushes.
  const name = `${mode.durability} mode${mode.maxBytes > 0 ? `, evicting above ${mode.maxBytes / 1024 / 1024} MiB` : ''}`;
  const engineOptions: Record<string, unknown> = {
    durability: mode.durability,
    maxBytes: mode.maxBytes,
    memtableBytes: 2 * 1024 * 1024,
    maxValueBytes: 4 * 1024 * 1024,
    maxInlineValueBytes: INLINE_BYTES,
  };

  describe(`crash safety (${name}, SIGKILL with many ops in flight)`, () => {
    let dir: string;
    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), `engine-crash-${mode.durability}-${mode.maxBytes}-`));
    });
    afterAll(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    /** Which ops of a round the mode promises to keep; also counts covered deletes. */
    function promise(log: RoundLog): {
      guaranteed: (o: IssuedOp) => boolean;
      coveredDelete: (o: IssuedOp) => boolean;
    } {
      if (mode.durability === 'durable') return { guaranteed: (o) => o.acked, coveredDelete: () => false };
      const wm = flushedWatermark(log);
      const flushed = (o: IssuedOp): boolean => o.acked && o.ackLine < wm;
      // README: "a delete of flushed data is made durable before it resolves". A delete is
      // covered when every earlier op on its key was flushed (so the version it removed, or
      // the key's absence, is on disk) — including when that version was evicted meanwhile.
      const earlierOps = new Map<number, IssuedOp[]>();
      for (const o of log.ops.values()) {
        const list = earlierOps.get(o.key);
        if (list) list.push(o);
        else earlierOps.set(o.key, [o]);
      }
      // "Earlier op flushed" must hold when the delete was ISSUED: a delete issued while the
      // version it removes still sits in a memtable being flushed is a delete of unflushed data.
      // Applies to the evicting cache too: a delete of a just-evicted key waits for the
      // eviction's dead mark (engine-bugs.md #5, fixed).
      const coveredDelete = (o: IssuedOp): boolean =>
        o.kind === 'd' &&
        o.acked &&
        !flushed(o) &&
        (earlierOps.get(o.key) ?? []).every((e) => e.op >= o.op || flushedBefore(log, e, o.issueLine));
      return { guaranteed: (o) => flushed(o) || coveredDelete(o), coveredDelete };
    }

    function verify(
      state: Map<number, KeyState>,
      log: RoundLog | undefined,
    ): Promise<{ observed: Map<number, KeyState>; problems: string[] }> {
      const guaranteed = log && mode.durability === 'cache' ? promise(log).guaranteed : undefined;
      return verifyAfterCrash({
        dir,
        engineOptions,
        keyCount: KEY_COUNT,
        maxValueBytes: MAX_VALUE_BYTES,
        inlineBytes: INLINE_BYTES,
        prefixes: PREFIXES,
        state,
        log,
        versionsSeen,
        mayEvict: mode.maxBytes > 0,
        ...(guaranteed ? { guaranteed } : {}),
      });
    }
    const versionsSeen = new Map<number, number[]>();

    it('keeps what the mode promises across repeated kills and recoveries', async () => {
      const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
      const rng = new Rng(seed);
      const seedNote = `CRASH_SEED=${seed} reproduces the op sequence and kill delays`;
      const state = new Map<number, KeyState>();
      const started = Date.now();
      let rounds = 0;
      let guaranteedOps = 0;
      let readyRounds = 0;
      let flushesCompleted = 0;
      let evictions = 0;
      let coveredDeletes = 0;
      let compactions = 0;
      for (let round = 1; round <= mode.maxRounds; round++) {
        if (rounds >= mode.minRounds && Date.now() - started > mode.budgetMs) break;
        // Every 4th round kills the child while it is recovering (within 120 ms of open()).
        const earlyKill = round % 4 === 0;
        const log = await runChildRound({
          dir,
          round,
          seed: rng.u32(),
          keyCount: KEY_COUNT,
          inFlight: IN_FLIGHT,
          maxValueBytes: MAX_VALUE_BYTES,
          engineOptions,
          readyTimeoutMs: 30_000,
          flushEveryMs: mode.flushEveryMs,
          killAfterFlush: mode.durability === 'cache',
          killAfterFlushMs: 50 + rng.int(400),
          ...(earlyKill ? { killAfterStartMs: rng.int(120) } : { killAfterReadyMs: 30 + rng.int(900) }),
        });
        rounds++;
        if (log.ready) readyRounds++;
        flushesCompleted += log.flushDone.size;
        evictions += log.lastStats?.evictions ?? 0;
        compactions += log.lastStats?.compactions ?? 0;
        const context = `${mode.durability} round ${round} (${seedNote}); stderr: ${log.stderr.slice(0, 2000)}`;
        expect(log.signal, `child must die by our SIGKILL, ${context}`).toBe('SIGKILL');
        expect(log.childErrors, `child saw inconsistent reads, ${context}`).toEqual([]);
        expect(log.rejections, `engine rejected ops without a fault, ${context}`).toEqual([]);
        expect(log.lastStats?.degraded ?? false, `engine went degraded, ${context}`).toBe(false);
        expect(log.started, `child never started, ${context}`).toBe(true);
        if (!earlyKill) expect(log.ready, `child never opened the engine, ${context}`).toBe(true);
        const { guaranteed, coveredDelete } = promise(log);
        for (const o of log.ops.values()) {
          if (guaranteed(o)) guaranteedOps++;
          if (coveredDelete(o)) coveredDeletes++;
        }

        for (const o of log.ops.values()) {
          if (o.kind !== 'p') continue;
          const list = versionsSeen.get(o.key);
          if (list) list.push(o.version);
          else versionsSeen.set(o.key, [o.version]);
        }
        // CRASH_SNAPSHOT_DIR=<path> keeps a copy of the directory as the kill left it (debugging).
        const snapshotRoot = process.env.CRASH_SNAPSHOT_DIR;
        if (snapshotRoot) {
          const snap = path.join(snapshotRoot, `${mode.durability}-${mode.maxBytes}-round-${round}`);
          await fs.rm(snap, { recursive: true, force: true });
          await fs.cp(dir, snap, { recursive: true });
        }
        const { observed, problems } = await verify(state, log);
        expect(problems.slice(0, 20), `after kill in round ${round}, ${context}`).toEqual([]);
        for (const [k, s] of observed) state.set(k, s);
      }
      expect(rounds).toBeGreaterThanOrEqual(mode.minRounds);
      // The harness must actually have exercised guaranteed writes, or it proves nothing.
      expect(readyRounds).toBeGreaterThanOrEqual(Math.ceil((rounds * 3) / 4));
      expect(guaranteedOps).toBeGreaterThan(mode.durability === 'durable' ? 1000 : 100);
      expect(flushesCompleted).toBeGreaterThan(0);
      // The background machinery each mode relies on must actually have run during the kills.
      if (mode.maxBytes > 0) expect(evictions, 'evictions ran').toBeGreaterThan(0);
      if (mode.durability === 'cache') {
        expect(coveredDeletes, 'acknowledged deletes of flushed data were checked').toBeGreaterThan(0);
      }
      if (mode.durability === 'durable') expect(compactions, 'rewrite compactions ran').toBeGreaterThan(0);

      // A clean close/reopen after all the crashes keeps exactly the same state.
      const first = await verify(state, undefined);
      expect(first.problems).toEqual([]);
      const second = await verify(state, undefined);
      expect(second.problems).toEqual([]);
    }, 180_000);
  });
}
