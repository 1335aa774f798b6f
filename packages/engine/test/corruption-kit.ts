// Tools for the corruption test: build a known data set, damage files in a copy of the directory,
// and work out which keys a given damage can legitimately affect.
//
// Invariant of the checks built on this: after damage, a key the damage cannot have touched reads
// back exactly its last written state (bytes, or absent after a delete); a key the damage may
// have touched reads as absent or as a version that was really written for it; no read ever
// returns bytes that were never written for that key.
//
// Which keys a damage "may have touched" is decided without relying on the engine's format: each
// key's bytes are searched for in the segment/WAL files (keys are unique, values are random), and
// a damaged byte at offset X in a file is attributed to the record whose key occurs last before X
// and to the record whose key occurs first after X (its header precedes its key).

import fs from 'node:fs/promises';
import path from 'node:path';
import { BlobEngine, type EngineOptions } from '../src/index.ts';
import { checkListing } from './listing-check.ts';
import { keyName, makeValue, Rng } from './model.ts';

export interface DataSet {
  /** Final state per key: bytes, or null when the last op was a delete. */
  final: Map<string, Buffer | null>;
  /** Every value ever written per key (older versions included). */
  history: Map<string, Buffer[]>;
}

export const DATA_MAX_VALUE_BYTES = 96 * 1024;

export type PlannedOp = { kind: 'put'; key: string; value: Buffer } | { kind: 'delete'; key: string };

/**
 * A deterministic history over `count` keys: every key put once, then some overwritten, some
 * deleted, some deleted and put again. Returns the ops (in order) and the resulting data set.
 */
export function planDataSet(count: number, seed: number): { ops: PlannedOp[]; data: DataSet } {
  const rng = new Rng(seed);
  const final = new Map<string, Buffer | null>();
  const history = new Map<string, Buffer[]>();
  const ops: PlannedOp[] = [];
  let version = 1;
  const put = (key: string): void => {
    const value = makeValue(key, version++, DATA_MAX_VALUE_BYTES);
    ops.push({ kind: 'put', key, value });
    final.set(key, value);
    const h = history.get(key);
    if (h) h.push(value);
    else history.set(key, [value]);
  };
  const del = (key: string): void => {
    ops.push({ kind: 'delete', key });
    final.set(key, null);
  };
  for (let i = 0; i < count; i++) put(keyName(i));
  for (let i = 0; i < count; i++) {
    const key = keyName(i);
    const r = rng.int(100);
    if (r < 12) put(key);
    else if (r < 22) del(key);
    else if (r < 26) {
      del(key);
      put(key);
    }
  }
  return { ops, data: { final, history } };
}

/** Applies the plan (32 ops in flight, never two on the same key at once), flushes, closes. */
export async function writeDataSet(
  dir: string,
  options: EngineOptions,
  count: number,
  seed: number,
): Promise<DataSet> {
  const { ops, data } = planDataSet(count, seed);
  const engine = await BlobEngine.open(dir, options);
  try {
    let batch: Promise<unknown>[] = [];
    const inBatch = new Set<string>();
    for (const op of ops) {
      if (batch.length >= 32 || inBatch.has(op.key)) {
        await Promise.all(batch);
        batch = [];
        inBatch.clear();
      }
      inBatch.add(op.key);
      batch.push(op.kind === 'put' ? engine.put(op.key, op.value) : engine.delete(op.key));
    }
    await Promise.all(batch);
    await engine.flush();
  } finally {
    await engine.close();
  }
  return data;
}

export interface FileMap {
  segments: string[];
  metas: string[];
  wals: string[];
  keyIndex: string[];
  others: string[];
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Classifies the files of an engine directory by their role. */
export async function mapFiles(dir: string): Promise<FileMap> {
  const all: string[] = [];
  await walk(dir, all);
  const m: FileMap = { segments: [], metas: [], wals: [], keyIndex: [], others: [] };
  for (const p of all.sort()) {
    const rel = path.relative(dir, p);
    if (rel.split(path.sep)[0] === 'keyindex' || rel.endsWith('.mdb') || rel.endsWith('.mdb-lock'))
      m.keyIndex.push(p);
    else if (rel.endsWith('.seg')) m.segments.push(p);
    else if (rel.endsWith('.meta')) m.metas.push(p);
    else if (rel.split(path.sep)[0] === 'wal' || rel.endsWith('.wal') || rel.endsWith('.log')) m.wals.push(p);
    else m.others.push(p);
  }
  return m;
}

/** Positions of each key's bytes in one file. */
export function keyOccurrences(content: Buffer, keys: Iterable<string>): { key: string; pos: number }[] {
  const out: { key: string; pos: number }[] = [];
  for (const key of keys) {
    const needle = Buffer.from(key, 'utf8');
    let from = 0;
    for (;;) {
      const p = content.indexOf(needle, from);
      if (p < 0) break;
      out.push({ key, pos: p });
      from = p + 1;
    }
  }
  return out.sort((a, b) => a.pos - b.pos);
}

/**
 * Keys a damage at [from, to) of a file may affect. `cutAfter`: the engine may also drop every
 * record after the damage (a sequential scan that stops at the first bad record).
 */
export function affectedKeys(
  occ: { key: string; pos: number }[],
  from: number,
  to: number,
  cutAfter: boolean,
): Set<string> {
  const out = new Set<string>();
  let before: string | undefined;
  for (const o of occ) {
    if (o.pos <= from) before = o.key;
    else if (o.pos < to) out.add(o.key);
    else {
      out.add(o.key); // the first record after the damage: its header may be damaged
      if (!cutAfter) break;
    }
  }
  if (before !== undefined) out.add(before);
  return out;
}

export async function flipBytes(file: string, offsets: number[]): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    for (const off of offsets) {
      await fh.read(b, 0, 1, off);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, off);
    }
  } finally {
    await fh.close();
  }
}

export interface VerifyReport {
  problems: string[];
  missing: string[];
  stale: string[];
  exact: number;
}

/**
 * Opens `dir`, reads every key of the data set and checks the listing. `affected` keys may be
 * missing or stale; every other key must be exact.
 */
export async function verifyDataSet(
  dir: string,
  options: EngineOptions,
  data: DataSet,
  affected: Set<string>,
  maxInlineValueBytes = 4096,
): Promise<VerifyReport> {
  const problems: string[] = [];
  const missing: string[] = [];
  const stale: string[] = [];
  let exact = 0;
  const live = new Map<string, Buffer>();
  const engine = await BlobEngine.open(dir, options);
  try {
    for (const [key, want] of data.final) {
      const got = await engine.get(key);
      if (got !== undefined) live.set(key, got);
      if (want === null ? got === undefined : got !== undefined && want.equals(got)) {
        exact++;
        continue;
      }
      if (got !== undefined && !(data.history.get(key) ?? []).some((h) => h.equals(got))) {
        problems.push(`${key}: returned ${got.length} bytes that were never written for it`);
        continue;
      }
      if (!affected.has(key)) {
        problems.push(
          `${key}: untouched by the damage but read ${got === undefined ? 'missing' : 'a stale/deleted version'}` +
            ` (expected ${want === null ? 'absent' : `${want.length} bytes`})`,
        );
        continue;
      }
      if (got === undefined) missing.push(key);
      else stale.push(key);
    }
    const listing = await checkListing(engine, live, ['a/', '\u4e2d/'], maxInlineValueBytes);
    problems.push(...listing.problems);
    // The damaged store must still accept writes.
    const probe = Buffer.from('probe-after-damage');
    await engine.put('zz/probe', probe);
    const back = await engine.get('zz/probe');
    if (!back?.equals(probe)) problems.push('a put after recovery did not read back');
    await engine.delete('zz/probe');
  } finally {
    await engine.close();
  }
  return { problems, missing, stale, exact };
}
