// Invariant (crash-only open): after recover() every acknowledged record is in a segment with a
// valid `.meta`, no WAL file remains, and for every key hash the in-memory index holds the
// version with the HIGHEST sequence number across all segments (hazard 5.2-4: never load order),
// where a winning tombstone means "absent". Every losing version is dead-marked in its own
// segment's `.meta`, restoring the invariant that only winners are undead on disk.

import { open, readdir, readFile, rename, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { pushTo } from './collections.ts';
import type { EngineConfig } from './config.ts';
import { isNotFound, syncDir, unlinkIfExists, writeFileAtomic } from './fsutil.ts';
import { HashIndex, NO_NODE } from './hashindex.ts';
import { decodeMeta, encodeFooter } from './meta.ts';
import { Progress } from './progress.ts';
import { latestPerHash, type SegEntry, scanSegmentFile } from './segfile.ts';
import type { SegmentStore } from './segment.ts';

export interface Recovered {
  readonly index: HashIndex;
  readonly maxSeq: number;
  readonly maxSegId: number;
  readonly liveBytes: number;
  readonly walFilesRecovered: number;
  /** Damaged regions skipped inside WAL files (the records after them were replayed). */
  readonly walRegionsSkipped: number;
  readonly metasRebuilt: number;
}

const WAL_RE = /^(\d+)\.wal$/;
const SEG_RE = /^(\d+)\.seg$/;
const META_RE = /^(\d+)\.meta$/;
const LOAD_WINDOW = 8;

interface LoadedSegment {
  readonly id: number;
  readonly entries: SegEntry[];
  readonly dead: Set<string>;
  readonly metaBytes: number;
  readonly fileBytes: number;
}

export function walDir(dir: string): string {
  return join(dir, 'wal');
}
export function walPath(dir: string, id: number): string {
  return join(walDir(dir), `${String(id).padStart(10, '0')}.wal`);
}

/** Turns every WAL file into a segment: cut the torn tail, fsync, rename. */
async function recoverWal(
  dir: string,
  cfg: EngineConfig,
  store: SegmentStore,
  log: Logger,
): Promise<{ files: number; damagedRegions: number }> {
  let names: string[];
  try {
    names = await readdir(walDir(dir));
  } catch (err) {
    if (isNotFound(err)) return { files: 0, damagedRegions: 0 };
    throw err;
  }
  let n = 0;
  let damagedRegions = 0;
  const ids = names
    .map((f) => WAL_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (ids.length === 0) return { files: 0, damagedRegions: 0 };
  let totalBytes = 0;
  for (const id of ids) totalBytes += (await stat(walPath(dir, id))).size;
  const progress = new Progress(log, {
    task: 'WAL replay',
    unit: 'files',
    totalItems: ids.length,
    totalBytes,
    intervalMs: cfg.progressLogIntervalMs,
  });
  for (const id of ids) {
    const path = walPath(dir, id);
    const fh = await open(path, 'r+');
    let keep = false;
    let fileBytes = 0;
    try {
      const scan = await scanSegmentFile(fh, cfg.maxValueBytes);
      fileBytes = scan.fileBytes;
      keep = scan.segId === id && scan.entries.length > 0;
      if (scan.skipped.length > 0) {
        // Damage in the middle (bit rot, a bad sector): only the damaged records are lost, every
        // verifying record after them is replayed (segfile.ts). The bytes stay in the file.
        const skippedBytes = scan.skipped.reduce((sum, g) => sum + g.end - g.start, 0);
        log.warn(
          { wal: path, regions: scan.skipped.length, skippedBytes, first: scan.skipped.slice(0, 8) },
          'WAL damaged: skipped unverifiable regions, replayed the records after them',
        );
        damagedRegions += scan.skipped.length;
      }
      if (keep) {
        if (scan.validEnd < scan.fileBytes) {
          log.warn({ wal: path, validBytes: scan.validEnd, fileBytes: scan.fileBytes }, 'WAL torn tail cut');
          await fh.truncate(scan.validEnd);
        }
        await fh.datasync();
      }
    } finally {
      await fh.close();
    }
    if (keep) {
      await unlinkIfExists(store.metaPath(id)); // a stale .meta must not describe the new file
      await rename(path, store.segPath(id));
      await syncDir(store.shardDir(id));
      n++;
    } else {
      await unlink(path);
    }
    await syncDir(walDir(dir));
    progress.advance(1, fileBytes);
  }
  progress.finish({ replayed: n, damagedRegions });
  return { files: n, damagedRegions };
}

export async function recover(
  dir: string,
  cfg: EngineConfig,
  store: SegmentStore,
  lastSegmentId: number,
  log: Logger,
): Promise<Recovered> {
  await store.ensureDirs();
  const wal = await recoverWal(dir, cfg, store, log);
  const walFilesRecovered = wal.files;
  const walRegionsSkipped = wal.damagedRegions;

  const segIds: number[] = [];
  for (let s = 0; s < store.shards; s++) {
    const sdir = join(dir, 'segments', String(s).padStart(4, '0'));
    const files = await readdir(sdir);
    const segs = new Set<number>();
    for (const f of files) {
      const m = SEG_RE.exec(f);
      if (m) segs.add(Number(m[1]));
    }
    for (const f of files) {
      if (f.endsWith('.tmp')) await unlinkIfExists(join(sdir, f));
      const mm = META_RE.exec(f);
      if (mm && !segs.has(Number(mm[1]))) await unlinkIfExists(join(sdir, f)); // orphan .meta
    }
    for (const id of segs) {
      if (id % store.shards !== s) {
        log.warn({ file: join(sdir, `${id}.seg`) }, 'segment in the wrong shard directory ignored');
        continue;
      }
      segIds.push(id);
    }
  }
  segIds.sort((a, b) => a - b);

  const index = new HashIndex(cfg.expectedItems);
  const tombs = new Map<string, { seq: number; seg: number }>();
  const losers = new Map<number, Buffer[]>();
  const lose = (seg: number, hash: Buffer): void => pushTo(losers, seg, hash);
  let maxSeq = 0;
  let metasRebuilt = 0;

  /** Reads (or rebuilds) one segment's footer and dead marks; undefined = unusable segment. */
  const load = async (id: number): Promise<LoadedSegment | undefined> => {
    const segPath = store.segPath(id);
    const metaPath = store.metaPath(id);
    let entries: SegEntry[] | undefined;
    let dead = new Set<string>();
    let metaBytes = 0;
    try {
      const buf = await readFile(metaPath);
      const meta = decodeMeta(buf, cfg.maxKeyBytes);
      if (meta && meta.footer.segId === id) {
        entries = meta.footer.entries;
        dead = meta.dead;
        metaBytes = meta.validBytes;
        if (meta.validBytes < buf.length) {
          // A torn tombstone batch must be cut: batches appended after it would be unreachable.
          log.warn({ meta: metaPath, validBytes: meta.validBytes }, 'torn tombstone batch cut');
          await truncate(metaPath, meta.validBytes);
          const fh = await open(metaPath, 'r+');
          try {
            await fh.datasync();
          } finally {
            await fh.close();
          }
        }
      } else {
        log.warn({ meta: metaPath }, 'corrupt .meta: rebuilding from the segment');
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const fileBytes = (await stat(segPath)).size;
    if (!entries) {
      const fh = await open(segPath, 'r');
      let scanned: Awaited<ReturnType<typeof scanSegmentFile>>;
      try {
        scanned = await scanSegmentFile(fh, cfg.maxValueBytes);
      } finally {
        await fh.close();
      }
      if (scanned.segId !== id) {
        log.warn({ segment: segPath }, 'segment with a bad header ignored');
        return undefined;
      }
      if (scanned.skipped.length > 0) {
        log.warn(
          { segment: segPath, regions: scanned.skipped.length, first: scanned.skipped.slice(0, 8) },
          'segment damaged: skipped unverifiable regions while rebuilding its .meta',
        );
      }
      entries = latestPerHash(scanned.entries);
      const footer = encodeFooter(id, entries);
      await writeFileAtomic(metaPath, store.shardDir(id), footer);
      metaBytes = footer.length;
      metasRebuilt++;
    }
    return { id, entries, dead, metaBytes, fileBytes };
  };

  const loading = new Progress(log, {
    task: 'segment loading',
    unit: 'segments',
    totalItems: segIds.length,
    intervalMs: cfg.progressLogIntervalMs,
  });
  // Load a window of segments in parallel (bounded memory), resolve them strictly in id order.
  for (let w = 0; w < segIds.length; w += LOAD_WINDOW) {
    const loaded = await Promise.all(segIds.slice(w, w + LOAD_WINDOW).map(load));
    for (const seg of loaded) {
      if (!seg) {
        loading.advance();
        continue;
      }
      const { id, entries, dead, metaBytes, fileBytes } = seg;
      store.register(id, fileBytes, metaBytes, entries.length);
      for (const e of entries) {
        if (e.seq > maxSeq) maxSeq = e.seq;
        const hs = e.hash.toString('latin1');
        if (dead.has(hs)) continue;
        if (e.pos + e.len > fileBytes) {
          log.warn({ segment: id, pos: e.pos }, 'footer entry beyond end of segment ignored');
          continue;
        }
        const n = index.find(e.hash);
        const liveSeq = n === NO_NODE ? -1 : index.seq(n);
        const tomb = tombs.get(hs);
        const tombSeq = tomb ? tomb.seq : -1;
        // ids ascend, so ">=" lets a rewrite's copy (same seq, higher id) win over its source
        if (e.seq < liveSeq || e.seq < tombSeq) {
          lose(id, e.hash);
          continue;
        }
        if (n !== NO_NODE) lose(index.seg(n), e.hash);
        if (tomb) lose(tomb.seg, e.hash);
        if (e.tombstone) {
          if (n !== NO_NODE) index.remove(n);
          tombs.set(hs, { seq: e.seq, seg: id });
        } else {
          if (tomb) tombs.delete(hs);
          index.upsert(e.hash, id, e.pos, e.len, e.seq);
        }
      }
      loading.advance(1, fileBytes);
    }
  }
  loading.finish({ items: index.size, metasRebuilt });

  // Restore "only winners are undead": losers (older versions) get dead marks in their segment.
  const marking = new Progress(log, {
    task: 'dead marks for older versions',
    unit: 'segments',
    totalItems: losers.size,
    intervalMs: cfg.progressLogIntervalMs,
  });
  await Promise.all(
    [...losers].map(async ([seg, hashes]) => {
      await store.appendDeadMarks(seg, hashes);
      marking.advance(1);
    }),
  );
  marking.finish();

  let liveBytes = 0;
  index.forEach((n) => {
    const info = store.get(index.seg(n));
    if (info) {
      info.liveCount++;
      info.liveBytes += index.len(n);
    }
    liveBytes += index.len(n);
  });
  for (const t of tombs.values()) {
    const info = store.get(t.seg);
    if (info) info.tombstones++;
  }
  const maxSegId = Math.max(lastSegmentId, segIds.length ? segIds[segIds.length - 1]! : 0);
  log.info(
    {
      segments: segIds.length,
      items: index.size,
      liveBytes,
      walFilesRecovered,
      walRegionsSkipped,
      metasRebuilt,
    },
    'engine recovered',
  );
  return { index, maxSeq, maxSegId, liveBytes, walFilesRecovered, walRegionsSkipped, metasRebuilt };
}
