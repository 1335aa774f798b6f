// Invariant: a directory is opened only with the format version and hash algorithm it was written
// with, and with the shard count recorded at creation (hazard 5.2-6: the shard count decides every
// segment path, so it is persisted, never re-derived from options).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IncompatibleFormatError } from './errors.ts';
import { isNotFound, writeFileAtomic } from './fsutil.ts';
import { HASH_ALGORITHM } from './keyhash.ts';

export const FORMAT_VERSION = 1;
export const MARKER_FILE = 'blobcache.json';

export interface Marker {
  readonly formatVersion: number;
  readonly hashAlgorithm: string;
  readonly shards: number;
  readonly createdAt: string;
  /** Highest segment id ever allocated, saved at close (ids are not reused after a restart). */
  readonly lastSegmentId: number;
  /** Highest sequence number ever issued, saved at close. */
  readonly lastSeq: number;
}

export async function readMarker(dir: string): Promise<Marker | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let m: Partial<Marker>;
  try {
    m = JSON.parse(text) as Partial<Marker>;
  } catch {
    throw new IncompatibleFormatError(`${MARKER_FILE} is not valid JSON`);
  }
  if (m.formatVersion !== FORMAT_VERSION) {
    throw new IncompatibleFormatError(
      `directory has format version ${String(m.formatVersion)}, this engine reads ${FORMAT_VERSION}`,
    );
  }
  if (m.hashAlgorithm !== HASH_ALGORITHM) {
    throw new IncompatibleFormatError(
      `directory uses hash algorithm ${String(m.hashAlgorithm)}, this engine uses ${HASH_ALGORITHM}`,
    );
  }
  if (!Number.isInteger(m.shards) || (m.shards as number) < 1 || (m.shards as number) > 256) {
    throw new IncompatibleFormatError(`${MARKER_FILE} has an invalid shard count`);
  }
  return {
    formatVersion: FORMAT_VERSION,
    hashAlgorithm: HASH_ALGORITHM,
    shards: m.shards as number,
    createdAt: String(m.createdAt ?? ''),
    lastSegmentId: Number.isSafeInteger(m.lastSegmentId) ? (m.lastSegmentId as number) : 0,
    lastSeq: Number.isSafeInteger(m.lastSeq) ? (m.lastSeq as number) : 0,
  };
}

export async function writeMarker(dir: string, m: Marker): Promise<void> {
  await writeFileAtomic(join(dir, MARKER_FILE), dir, Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
}
