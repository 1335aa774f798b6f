// Corruption test: a known data set is written (durable and cache mode), then copies of the
// directory are damaged — bytes flipped and files truncated in segments, `.meta` files, WAL files
// and the LMDB key index, the marker made unusable — and reopened.
// Expected: open does not crash (it may refuse with a typed EngineError only when the marker
// itself is unusable); damaged records read as missing (never as wrong bytes); every record the
// damage cannot have touched reads back exactly; keys() agrees with get() (the key index is
// rebuilt); the store still accepts writes; a second reopen gives the same answers.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobEngine, EngineError, type EngineOptions } from '../src/index.ts';
import {
  affectedKeys,
  type DataSet,
  type FileMap,
  flipBytes,
  keyOccurrences,
  mapFiles,
  type VerifyReport,
  verifyDataSet,
  writeDataSet,
} from './corruption-kit.ts';
import { type RoundLog, runChildRound, verifyAfterCrash } from './crash-harness.ts';
import { keyName, Rng } from './model.ts';

const COUNT = 300;
const SEED = 4242;
const VERIFY_CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'verify-child.ts');

function rel(root: string, files: string[], to: string): string[] {
  return files.map((f) => path.join(to, path.relative(root, f)));
}

async function verifyTwice(
  dir: string,
  options: EngineOptions,
  data: DataSet,
  affected: Set<string>,
): Promise<VerifyReport> {
  const first = await verifyDataSet(dir, options, data, affected);
  expect(first.problems, 'first reopen after damage').toEqual([]);
  const second = await verifyDataSet(dir, options, data, affected);
  expect(second.problems, 'second reopen after damage').toEqual([]);
  // Recovery must not make things worse on the next open.
  expect(second.missing.length).toBeLessThanOrEqual(first.missing.length);
  return first;
}

for (const durability of ['durable', 'cache'] as const) {
  const options: EngineOptions = { durability, memtableBytes: 256 * 1024, maxValueBytes: 1024 * 1024 };

  describe(`corruption in ${durability} mode`, () => {
    let root: string;
    let pristine: string;
    let data: DataSet;
    let files: FileMap;

    beforeAll(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), `engine-corrupt-${durability}-`));
      pristine = path.join(root, 'pristine');
      data = await writeDataSet(pristine, options, COUNT, SEED);
      files = await mapFiles(pristine);
    });
    afterAll(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    async function copyOf(name: string): Promise<{ dir: string; files: FileMap }> {
      const dir = path.join(root, name);
      await fs.cp(pristine, dir, { recursive: true });
      return {
        dir,
        files: {
          segments: rel(pristine, files.segments, dir),
          metas: rel(pristine, files.metas, dir),
          wals: rel(pristine, files.wals, dir),
          keyIndex: rel(pristine, files.keyIndex, dir),
          others: rel(pristine, files.others, dir),
        },
      };
    }

    async function occurrencesIn(file: string): Promise<{ key: string; pos: number }[]> {
      return keyOccurrences(await fs.readFile(file), data.final.keys());
    }

    it('has the layout the damage below targets', () => {
      expect(files.segments.length, 'several segments').toBeGreaterThanOrEqual(4);
      expect(files.metas.length, 'a .meta per segment').toBeGreaterThanOrEqual(files.segments.length);
      expect(files.keyIndex.length, 'an LMDB key index').toBeGreaterThan(0);
    });

    it('reads an undamaged copy back exactly', async () => {
      const { dir } = await copyOf('undamaged');
      const r = await verifyTwice(dir, options, data, new Set());
      expect(r.exact).toBe(data.final.size);
    });

    it('serves flipped bytes inside segment records as missing, never as wrong bytes', async () => {
      const { dir, files: f } = await copyOf('seg-flip');
      const rng = new Rng(11);
      const affected = new Set<string>();
      for (const seg of f.segments.filter((_, i) => i % 2 === 0)) {
        const { size } = await fs.stat(seg);
        const occ = await occurrencesIn(seg);
        const offsets: number[] = [];
        for (let n = 0; n < 3; n++) offsets.push(64 + rng.int(Math.max(1, size - 64)));
        for (const o of offsets) for (const k of affectedKeys(occ, o, o + 1, false)) affected.add(k);
        await flipBytes(seg, offsets);
      }
      const r = await verifyTwice(dir, options, data, affected);
      expect(r.missing.length + r.stale.length, 'the flips must have hit something').toBeGreaterThan(0);
    });

    it('survives a damaged segment file header', async () => {
      const { dir, files: f } = await copyOf('seg-header');
      const seg = f.segments[1]!;
      const affected = new Set((await occurrencesIn(seg)).map((o) => o.key));
      await flipBytes(seg, [0, 9, 13, 20]);
      await verifyTwice(dir, options, data, affected);
    });

    it('loses only the cut records of truncated segments', async () => {
      const { dir, files: f } = await copyOf('seg-truncate');
      const rng = new Rng(12);
      const affected = new Set<string>();
      for (const seg of [f.segments[0]!, f.segments[2]!]) {
        const { size } = await fs.stat(seg);
        const cut = 40 + rng.int(size - 40);
        for (const k of affectedKeys(await occurrencesIn(seg), cut, size, true)) affected.add(k);
        await fs.truncate(seg, cut);
      }
      // A segment cut to nothing at all.
      const empty = f.segments[3]!;
      for (const o of await occurrencesIn(empty)) affected.add(o.key);
      await fs.truncate(empty, 0);
      const r = await verifyTwice(dir, options, data, affected);
      expect(r.missing.length).toBeGreaterThan(0);
    });

    it('rebuilds damaged, truncated and deleted .meta files from the segments', async () => {
      const { dir, files: f } = await copyOf('meta');
      const rng = new Rng(13);
      for (const [i, meta] of f.metas.entries()) {
        const { size } = await fs.stat(meta);
        if (i % 4 === 0) await flipBytes(meta, [rng.int(size), rng.int(size)]);
        else if (i % 4 === 1) await fs.truncate(meta, rng.int(size));
        else if (i % 4 === 2) await fs.rm(meta);
        else await flipBytes(meta, [size - 1 - rng.int(Math.min(size, 24))]); // the tail
      }
      const r = await verifyTwice(dir, options, data, new Set());
      expect(r.exact).toBe(data.final.size);
    });

    it('never serves bytes from a segment file that sits under another segment id', async () => {
      // e.g. a botched restore: two segment files swapped. Records start at the same offsets in
      // every segment, so a reader that trusts the path would serve another key's bytes.
      const { dir, files: f } = await copyOf('seg-swap');
      const [a, b] = [f.segments[1]!, f.segments[2]!];
      const affected = new Set<string>();
      for (const file of [a, b]) for (const o of await occurrencesIn(file)) affected.add(o.key);
      await fs.rename(a, `${a}.swap`);
      await fs.rename(b, a);
      await fs.rename(`${a}.swap`, b);
      await verifyTwice(dir, options, data, affected);
    });

    it('rebuilds .meta files that belong to other segments', async () => {
      const { dir, files: f } = await copyOf('meta-swap');
      const [a, b] = [f.metas[1]!, f.metas[2]!];
      await fs.rename(a, `${a}.swap`);
      await fs.rename(b, a);
      await fs.rename(`${a}.swap`, b);
      const r = await verifyTwice(dir, options, data, new Set());
      expect(r.exact).toBe(data.final.size);
    });

    it('rebuilds a deleted key index', async () => {
      const { dir, files: f } = await copyOf('keyindex-rm');
      for (const p of f.keyIndex) await fs.rm(p, { force: true });
      const r = await verifyTwice(dir, options, data, new Set());
      expect(r.exact).toBe(data.final.size);
    });

    it('survives a truncated or byte-flipped LMDB file (checked in a child process)', async () => {
      const dataFile = files.keyIndex.find((p) => p.endsWith('data.mdb'));
      expect(dataFile, 'an LMDB data.mdb file').toBeDefined();
      const rng = new Rng(14);
      const variants: [string, (file: string) => Promise<void>][] = [
        ['empty', (file) => fs.truncate(file, 0)],
        ['half', async (file) => fs.truncate(file, Math.floor((await fs.stat(file)).size / 2))],
        [
          'flipped',
          async (file) => {
            const { size } = await fs.stat(file);
            const offsets: number[] = [];
            for (let n = 0; n < 32; n++) offsets.push(rng.int(Math.min(size, 256 * 1024)));
            await flipBytes(file, offsets);
          },
        ],
        ['garbage', async (file) => fs.writeFile(file, Buffer.alloc(64 * 1024, 0x5a))],
      ];
      for (const [name, damage] of variants) {
        const { dir } = await copyOf(`keyindex-${name}`);
        await damage(path.join(dir, path.relative(pristine, dataFile!)));
        let stdout: string;
        try {
          ({ stdout } = await promisify(execFile)(
            process.execPath,
            [VERIFY_CHILD, dir, JSON.stringify(options), String(COUNT), String(SEED)],
            { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
          ));
        } catch (err) {
          const e = err as { signal?: string; code?: number; stderr?: string };
          throw new Error(
            `LMDB damage "${name}": reopen died (signal ${e.signal}, code ${e.code}): ${String(e.stderr).slice(0, 1500)}`,
          );
        }
        const report = JSON.parse(stdout.trim().split('\n').pop()!) as VerifyReport;
        expect(report.problems, `LMDB damage "${name}"`).toEqual([]);
        expect(report.exact, `LMDB damage "${name}"`).toBe(data.final.size);
      }
    });

    it('refuses an unusable marker with a typed error and leaves the data intact', async () => {
      const { dir, files: f } = await copyOf('marker');
      expect(f.others.length, 'a marker file').toBeGreaterThan(0);
      const saved = new Map<string, Buffer>();
      for (const p of f.others) {
        saved.set(p, await fs.readFile(p));
        await fs.writeFile(p, Buffer.from('\u0000not a marker\u00ff'));
      }
      const err = await BlobEngine.open(dir, options).then(
        async (e) => {
          await e.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err, 'open must refuse an unusable marker').toBeInstanceOf(EngineError);
      for (const [p, b] of saved) await fs.writeFile(p, b);
      const r = await verifyTwice(dir, options, data, new Set());
      expect(r.exact).toBe(data.final.size);
    });
  });
}

describe('damage to an un-replayed WAL (durable mode, writer killed mid-write)', () => {
  const keyCount = 400;
  const maxValueBytes = 256 * 1024;
  const engineOptions = { memtableBytes: 8 * 1024 * 1024, maxValueBytes: 1024 * 1024 };
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'engine-corrupt-wal-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('keeps every acknowledged record the damage cannot reach, and never serves damaged bytes', async () => {
    // A killed writer leaves a WAL that the next open must replay; retry until the kill left one
    // with a reasonable number of records in it.
    let source = '';
    let log: RoundLog | undefined;
    let wal = '';
    let occ: { key: string; pos: number }[] = [];
    const allKeys = Array.from({ length: keyCount }, (_, i) => keyName(i));
    for (let attempt = 0; attempt < 5 && occ.length < 20; attempt++) {
      source = path.join(root, `source-${attempt}`);
      await fs.mkdir(source);
      log = await runChildRound({
        dir: source,
        round: 1,
        seed: 99 + attempt,
        keyCount,
        inFlight: 64,
        maxValueBytes,
        engineOptions,
        readyTimeoutMs: 30_000,
        killAfterReadyMs: 300 + attempt * 150,
      });
      expect(log.ready).toBe(true);
      expect(log.rejections).toEqual([]);
      const walFiles = (await mapFiles(source)).wals;
      for (const w of walFiles) {
        const o = keyOccurrences(await fs.readFile(w), allKeys);
        if (o.length > occ.length) {
          occ = o;
          wal = w;
        }
      }
    }
    expect(occ.length, 'the killed writer left a WAL with records').toBeGreaterThanOrEqual(20);
    const rng = new Rng(21);
    const { size } = await fs.stat(wal);
    const variants: [string, (file: string) => Promise<Set<string>>][] = [
      ['undamaged', async () => new Set()],
      [
        'flipped',
        async (file) => {
          const at = occ[Math.floor(occ.length / 2)]!.pos + rng.int(64);
          await flipBytes(file, [at]);
          // Recovery resynchronises after a damaged record: only that record may be lost.
          return affectedKeys(occ, at, at + 1, false);
        },
      ],
      [
        'truncated',
        async (file) => {
          const cut = occ[Math.floor(occ.length / 3)]!.pos - rng.int(32);
          await fs.truncate(file, cut);
          return affectedKeys(occ, cut, size, true);
        },
      ],
    ];
    for (const [name, damage] of variants) {
      const dir = path.join(root, name);
      await fs.cp(source, dir, { recursive: true });
      const relaxed = await damage(path.join(dir, path.relative(source, wal)));
      for (let pass = 0; pass < 2; pass++) {
        const { problems } = await verifyAfterCrash({
          dir,
          engineOptions,
          keyCount,
          maxValueBytes,
          inlineBytes: 4096,
          prefixes: ['a/', '\u4e2d/'],
          state: new Map(),
          log,
          relaxed,
        });
        expect(problems.slice(0, 20), `WAL ${name}, reopen ${pass + 1}`).toEqual([]);
      }
    }
  });
});
