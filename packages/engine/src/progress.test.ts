import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { Progress } from './progress.ts';
import { runAndCrash, withTempDir } from './testutil.ts';

type Line = Record<string, unknown> & { msg: string; level: number };

/** A debug-level pino logger whose lines land in `lines` (synchronously). */
function capturingLogger(level = 'debug'): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

const INFO = 30;
const DEBUG = 20;

describe('Progress', () => {
  it('a step shorter than the interval logs nothing at info', () => {
    const { logger, lines } = capturingLogger();
    let t = 0;
    const p = new Progress(logger, {
      task: 't',
      unit: 'files',
      totalItems: 10,
      intervalMs: 1000,
      now: () => t,
    });
    for (let i = 0; i < 10; i++) {
      t += 50;
      p.advance(1, 100);
    }
    const s = p.finish();
    expect(s.done).toBe(10);
    expect(s.bytes).toBe(1000);
    expect(lines.filter((l) => l.level >= INFO)).toEqual([]);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [DEBUG, 't started'],
      [DEBUG, 't finished'],
    ]);
  });

  it('a long step logs its totals, rate-limited progress with an ETA, and an info end line', () => {
    const { logger, lines } = capturingLogger('info');
    let t = 1000;
    const p = new Progress(logger, {
      task: 'replay',
      unit: 'segments',
      totalItems: 100,
      totalBytes: 100_000,
      intervalMs: 1000,
      now: () => t,
    });
    for (let i = 0; i < 100; i++) {
      t += 100; // 10 segments (10 kB) per second
      p.advance(1, 1000);
    }
    p.finish({ items: 7 });
    const msgs = lines.map((l) => l.msg);
    expect(msgs[0]).toBe('replay is taking a while');
    expect(lines[0]).toMatchObject({ total: 100, totalBytes: 100_000, unit: 'segments' });
    const progress = lines.filter((l) => l.msg === 'replay progress');
    // one line per elapsed second of the ten
    expect(progress).toHaveLength(10);
    expect(progress[0]).toMatchObject({ done: 10, total: 100, bytes: 10_000, perSecond: 10, etaSeconds: 9 });
    expect(progress[4]).toMatchObject({ done: 50, bytesPerSecond: 10_000, etaSeconds: 5 });
    expect(progress[9]).toMatchObject({ done: 100, etaSeconds: 0 });
    expect(lines.at(-1)).toMatchObject({ msg: 'replay finished', done: 100, durationMs: 10_000, items: 7 });
    expect(p.lines).toBe(10);
  });

  it('reads the clock only every checkEvery calls', () => {
    const { logger } = capturingLogger();
    let reads = 0;
    const p = new Progress(logger, {
      task: 'bloom',
      unit: 'items',
      intervalMs: 0,
      checkEvery: 1000,
      now: () => ++reads,
    });
    for (let i = 0; i < 10_000; i++) p.advance();
    expect(reads).toBe(1 + 10); // constructor + one per 1000 calls
    expect(p.lines).toBe(10);
  });

  it('without a total there is no ETA', () => {
    const { logger, lines } = capturingLogger();
    let t = 0;
    const p = new Progress(logger, { task: 'x', unit: 'items', intervalMs: 10, now: () => t });
    t = 20;
    p.advance(5);
    expect(lines.find((l) => l.msg === 'x progress')).toMatchObject({ done: 5, perSecond: 250 });
    expect(lines.find((l) => l.msg === 'x progress')?.etaSeconds).toBeUndefined();
  });
});

describe('engine open progress', () => {
  const opts = { memtableBytes: 64 * 1024, shards: 2, maxInflightMemtables: 4 };
  const value = (i: number): string => `v${i}-${'x'.repeat(3000)}`;

  it('a real WAL replay, segment load and key index rebuild log counts and an ETA', async () => {
    await withTempDir(async (dir) => {
      // ~40 flushed segments, then a crash that leaves unflushed WAL files behind
      const first = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 800; i++) await first.put(`a${i}`, Buffer.from(value(i)));
      await first.close();
      const ops: string[][] = [];
      for (let i = 0; i < 100; i++) ops.push(['put', `b${i}`, value(i)]);
      await runAndCrash(dir, opts, ops);
      await rm(join(dir, 'keyindex'), { recursive: true, force: true });

      const { logger, lines } = capturingLogger('info');
      const e = await BlobEngine.open(dir, { ...opts, logger, progressLogIntervalMs: 0 });
      const of = (task: string): Record<string, unknown>[] =>
        lines.filter((l) => l.msg === `${task} progress`);

      const wal = of('WAL replay');
      expect(wal.length).toBeGreaterThan(0);
      expect(wal.at(-1)).toMatchObject({ unit: 'files', done: wal.length, total: wal.length, etaSeconds: 0 });
      expect(wal[0]!.totalBytes).toBeGreaterThan(0);
      expect(lines.find((l) => l.msg === 'WAL replay is taking a while')).toMatchObject({
        total: wal.length,
      });

      const segs = of('segment loading');
      expect(segs.length).toBeGreaterThan(40);
      const segTotal = segs[0]!.total as number;
      expect(segs.map((l) => l.done)).toEqual(segs.map((_, i) => i + 1));
      expect(segs.at(-1)).toMatchObject({ done: segTotal, etaSeconds: 0 });
      for (const l of segs) {
        expect(typeof l.etaSeconds).toBe('number');
        expect(typeof l.perSecond).toBe('number');
      }
      expect(lines.find((l) => l.msg === 'segment loading finished')).toMatchObject({
        done: segTotal,
        items: 900,
      });

      const rebuild = of('key index rebuild');
      expect(rebuild.at(-1)).toMatchObject({ unit: 'segments', done: segTotal, total: segTotal });
      expect(lines.find((l) => l.msg === 'key index rebuild finished')).toMatchObject({ rows: 900 });

      expect((await e.get('b99'))?.toString()).toBe(value(99));
      const before = lines.length;
      await e.close();
      // close checksums the key index for the next open: a pass over data.mdb, with progress
      const crc = lines.slice(before).filter((l) => l.msg === 'key index checksum progress');
      expect(crc.length).toBeGreaterThan(0);
      expect(crc.at(-1)!.bytes).toBe(crc.at(-1)!.totalBytes);
    });
  }, 60_000);

  it('a quick open logs no progress at info', async () => {
    await withTempDir(async (dir) => {
      const first = await BlobEngine.open(dir, opts);
      for (let i = 0; i < 50; i++) await first.put(`a${i}`, Buffer.from(value(i)));
      await first.close();
      const { logger, lines } = capturingLogger('info');
      const e = await BlobEngine.open(dir, { ...opts, logger });
      await e.close();
      const noisy = lines.filter((l) => / (progress|is taking a while|finished)$/.test(l.msg));
      expect(noisy).toEqual([]);
    });
  });
});
