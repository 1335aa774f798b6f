// Kill -9 test of durable mode: a child keeps 128 puts/deletes in flight and is SIGKILLed at random
// moments (some while it is still recovering from the previous kill); after each kill the
// directory is reopened here and every key is checked against what was acknowledged.
// The same directory is reused across rounds, so recovery of a recovered store is exercised.
// See crash-harness.ts for the exact per-key rule.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyState, type RoundLog, runChildRound, verifyAfterCrash } from './crash-harness.ts';
import { Rng } from './model.ts';

const KEY_COUNT = 1200;
const IN_FLIGHT = 128;
const MAX_VALUE_BYTES = 1536 * 1024;
const MIN_ROUNDS = 20;
const MAX_ROUNDS = 28;
const TIME_BUDGET_MS = 50_000;
const INLINE_BYTES = 4096;
// Small memtables so every round rotates, renames WAL files into segments and flushes.
const ENGINE_OPTIONS: Record<string, unknown> = {
  memtableBytes: 2 * 1024 * 1024,
  maxValueBytes: 4 * 1024 * 1024,
  maxInlineValueBytes: INLINE_BYTES,
};
const PREFIXES = ['a/', 'a/b/', 'z\u00e9/', '\u4e2d/', '\u{1f600}/', 'b/k0001'];

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'engine-crash-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function verify(
  state: Map<number, KeyState>,
  log: RoundLog | undefined,
): Promise<{ observed: Map<number, KeyState>; problems: string[] }> {
  return verifyAfterCrash({
    dir,
    engineOptions: ENGINE_OPTIONS,
    keyCount: KEY_COUNT,
    maxValueBytes: MAX_VALUE_BYTES,
    inlineBytes: INLINE_BYTES,
    prefixes: PREFIXES,
    state,
    log,
  });
}

describe('crash safety (durable mode, SIGKILL with many ops in flight)', () => {
  it('keeps every acknowledged put and delete across repeated kills and recoveries', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const rng = new Rng(seed);
    const seedNote = `CRASH_SEED=${seed} reproduces the schedule`;
    const state = new Map<number, KeyState>();
    const started = Date.now();
    let rounds = 0;
    let acknowledged = 0;
    let readyRounds = 0;
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      if (rounds >= MIN_ROUNDS && Date.now() - started > TIME_BUDGET_MS) break;
      const earlyKill = rng.chance(0.25);
      const log = await runChildRound({
        dir,
        round,
        seed: rng.u32(),
        keyCount: KEY_COUNT,
        inFlight: IN_FLIGHT,
        maxValueBytes: MAX_VALUE_BYTES,
        engineOptions: ENGINE_OPTIONS,
        readyTimeoutMs: 30_000,
        ...(earlyKill ? { killAfterStartMs: rng.int(120) } : { killAfterReadyMs: 30 + rng.int(900) }),
      });
      rounds++;
      if (log.ready) readyRounds++;
      const context = `round ${round} (${seedNote}); stderr: ${log.stderr.slice(0, 2000)}`;
      expect(log.signal, `child must die by our SIGKILL, ${context}`).toBe('SIGKILL');
      expect(log.childErrors, `child saw inconsistent reads, ${context}`).toEqual([]);
      expect(log.rejections, `engine rejected ops without a fault, ${context}`).toEqual([]);
      expect(log.started, `child never started, ${context}`).toBe(true);
      if (!earlyKill) expect(log.ready, `child never opened the engine, ${context}`).toBe(true);
      for (const o of log.ops.values()) if (o.acked) acknowledged++;

      const { observed, problems } = await verify(state, log);
      expect(problems.slice(0, 20), `after kill in round ${round}, ${context}`).toEqual([]);
      for (const [k, s] of observed) state.set(k, s);
    }
    expect(rounds).toBeGreaterThanOrEqual(MIN_ROUNDS);
    // The harness must actually have exercised acknowledged writes, or it proves nothing.
    expect(readyRounds).toBeGreaterThan(MIN_ROUNDS / 2);
    expect(acknowledged).toBeGreaterThan(1000);

    // A clean close/reopen after all the crashes keeps exactly the same state.
    const first = await verify(state, undefined);
    expect(first.problems).toEqual([]);
    const second = await verify(state, undefined);
    expect(second.problems).toEqual([]);
  }, 180_000);
});
