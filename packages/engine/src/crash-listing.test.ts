// Regression for the 14:02 report (engine-bugs.md): right after a crash-only reopen, a listing
// with values must show exactly the keys get() sees, with the same bytes, without any flush().
// A child process writes chunk-like and head-like values through several memtables (flushes in
// flight) and is SIGKILLed right after its last acknowledgement; the parent reopens and lists
// immediately, several rounds on the same directory (recovery of a recovered store).
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { runAndCrash, withTempDir } from './testutil.ts';

const ROUNDS = 4;
const PER_ROUND = 60;

describe('listing right after a crash-only reopen', () => {
  for (const durability of ['durable', 'cache'] as const) {
    it(`${durability}: keys({prefix, withValues}) agrees with get() over the written set`, async () => {
      await withTempDir(async (dir) => {
        const options = { durability, memtableBytes: 64 * 1024, shards: 1 };
        const expected = new Map<string, string | undefined>();
        for (let r = 0; r < ROUNDS; r++) {
          const ops: (string | undefined)[][] = [];
          for (let i = 0; i < PER_ROUND; i++) {
            ops.push(['put', `d/${r}/${i}`, `chunk-${r}-${i}-`.repeat(800)]);
            const head = JSON.stringify({ r, i, data: `d/${r}/${i}` });
            ops.push(['put', `o/${r}/${String(i).padStart(3, '0')}`, head]);
            expected.set(`o/${r}/${String(i).padStart(3, '0')}`, head);
            if (i % 7 === 3) {
              const victim = `o/${r}/${String(i - 1).padStart(3, '0')}`;
              ops.push(['del', victim]);
              expected.set(victim, undefined);
            }
          }
          await runAndCrash(dir, options, ops);
          const e = await BlobEngine.open(dir, options);
          try {
            const listed = new Map<string, string | undefined>();
            for await (const x of e.keys({ prefix: 'o/', withValues: true })) {
              listed.set(x.key.toString(), x.value?.toString());
            }
            const got = new Map<string, string>();
            for (const k of expected.keys()) {
              const v = await e.get(k);
              if (v) got.set(k, v.toString());
            }
            // get() and the listing agree with each other, key by key and byte by byte
            expect([...listed.keys()].sort()).toEqual([...got.keys()].sort());
            for (const [k, v] of got) expect(listed.get(k)).toBe(v);
            if (durability === 'durable') {
              // every acknowledged write survived the kill
              const live = [...expected].filter(([, v]) => v !== undefined);
              expect(got.size).toBe(live.length);
              for (const [k, v] of live) expect(got.get(k)).toBe(v);
            }
          } finally {
            await e.close();
          }
          // the next round's child writes on top of a cleanly closed (durable) or reopened store
        }
      });
    }, 60_000);
  }
});
