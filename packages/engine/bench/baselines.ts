// Baselines the engine is compared with, each used the way it is fastest:
//   - LMDB (lmdb-js): puts batched in synchronous transactions; noSync for cache-mode
//     comparisons, a synced commit per transaction for durable comparisons.
//   - One file per value on the filesystem (sharded into 256 directories).
//   - Raw sequential write of the same bytes into one file: the physical limit; with fdatasync
//     after every group of values for durable comparisons.
// Invariant: every baseline stores exactly the workload's keys and bytes (checked after reads).

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { faster, inFlight, type Measurement, timed } from './measure.ts';
import type { Workload } from './workload.ts';

export interface LmdbResults {
  put: Measurement;
  getHot: Measurement;
  getCold: Measurement;
  iterate: Measurement;
}

function openBinary(dir: string, durable: boolean): RootDatabase<Buffer, Buffer> {
  return openLmdb<Buffer, Buffer>({
    path: dir,
    keyEncoding: 'binary',
    encoding: 'binary',
    compression: false,
    noSync: !durable,
    overlappingSync: false,
    mapSize: 4 * 1024 * 1024 * 1024,
  });
}

function lmdbReadAll(db: RootDatabase<Buffer, Buffer>, w: Workload): number {
  let bytes = 0;
  for (let j = 0; j < w.keys.length; j++) {
    const i = w.getOrder[j]!;
    const v = db.getBinary(w.keys[i]!);
    assert(v !== undefined && v.length === w.valueBytes, 'lmdb lost a value');
    bytes += v.length;
  }
  return bytes;
}

/** LMDB with `batch` puts per transaction; synced commits when `durable`. */
export async function benchLmdb(
  dir: string,
  w: Workload,
  batch: number,
  durable: boolean,
): Promise<LmdbResults> {
  let db = openBinary(dir, durable);
  const n = w.keys.length;
  const put = await timed(n, w.totalBytes, () => {
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      db.transactionSync(() => {
        for (let j = start; j < end; j++) {
          const i = w.putOrder[j]!;
          db.putSync(w.keys[i]!, w.value(i));
        }
      });
    }
  });
  // Hot: the faster of two passes (JIT and allocator warm), exactly as for the engine.
  const hot = (): Promise<Measurement> =>
    timed(n, w.totalBytes, () => {
      lmdbReadAll(db, w);
    });
  const getHot = faster(await hot(), await hot());
  await db.close();
  db = openBinary(dir, durable);
  const getCold = await timed(n, w.totalBytes, () => {
    lmdbReadAll(db, w);
  });
  let listed = 0;
  const iterate = await timed(n, 0, () => {
    for (const _k of db.getKeys()) listed++;
  });
  assert.equal(listed, n);
  await db.close();
  return { put, getHot, getCold, iterate };
}

export interface FilesResults {
  put: Measurement;
  getHot: Measurement;
}

function filePath(dir: string, key: Buffer): string {
  // Keys contain '/', so name files by index-free hex of the key.
  const hex = key.toString('hex');
  return path.join(dir, hex.slice(-2), hex);
}

/** One file per value; `fsyncEach` opens, writes and fdatasyncs every file. */
export async function benchFiles(
  dir: string,
  w: Workload,
  depth: number,
  fsyncEach: boolean,
  count?: number,
): Promise<FilesResults> {
  const n = Math.min(count ?? w.keys.length, w.keys.length);
  const shards = new Set<string>();
  for (let j = 0; j < n; j++) shards.add(path.dirname(filePath(dir, w.keys[w.putOrder[j]!]!)));
  for (const s of shards) await fs.mkdir(s, { recursive: true });
  const put = await timed(n, n * w.valueBytes, () =>
    inFlight(n, depth, async (j) => {
      const i = w.putOrder[j]!;
      const p = filePath(dir, w.keys[i]!);
      if (!fsyncEach) {
        await fs.writeFile(p, w.value(i));
        return;
      }
      const fh = await fs.open(p, 'w');
      try {
        await fh.write(w.value(i));
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }),
  );
  // Read back in the workload's random read order (or, for a partial run, the written subset).
  const used = n === w.keys.length ? w.getOrder : w.putOrder.subarray(0, n);
  const getHot = await timed(n, n * w.valueBytes, () =>
    inFlight(n, depth, async (j) => {
      const v = await fs.readFile(filePath(dir, w.keys[used[j]!]!));
      assert.equal(v.length, w.valueBytes);
    }),
  );
  return { put, getHot };
}

/**
 * Appends every value to one file in put order with large writev calls; with `syncEvery` > 0,
 * fdatasync after each group of that many values (the group-commit equivalent).
 */
export async function benchRawSequential(file: string, w: Workload, syncEvery: number): Promise<Measurement> {
  const n = w.keys.length;
  const fh = await fs.open(file, 'w');
  try {
    const group =
      syncEvery > 0 ? syncEvery : Math.max(1, Math.floor((8 * 1024 * 1024) / Math.max(1, w.valueBytes)));
    return await timed(n, w.totalBytes, async () => {
      for (let start = 0; start < n; start += group) {
        const bufs: Buffer[] = [];
        const end = Math.min(n, start + group);
        for (let j = start; j < end; j++) bufs.push(w.value(w.putOrder[j]!));
        // writev takes at most IOV_MAX (1024) buffers per call.
        for (let b = 0; b < bufs.length; b += 1024) await fh.writev(bufs.slice(b, b + 1024));
        if (syncEvery > 0) await fh.datasync();
      }
    });
  } finally {
    await fh.close();
  }
}
