// Engine key layout of the object store. Invariant: the five prefixes never overlap, bucket names
// contain no `/`, so `o/<bucket>/` is exactly the set of one bucket's object heads, and chunk
// indexes are fixed-width hex so their byte order is their numeric order.
//   b/<bucket>                 → bucket record (JSON)
//   o/<bucket>/<key>           → object head (JSON, small enough to be inline in the key index)
//   l/<versionId>              → part list of a head too large to inline
//   d/<dataId>/<chunk, 8 hex>  → chunk bytes (CHUNK_BYTES each, the last one shorter)
//   g/<versionId>              → write intent, used to reclaim chunks orphaned by a crash
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

/** Object data is stored as chunks of this many bytes (the last chunk of a part may be shorter). */
export const CHUNK_BYTES = 1024 * 1024;

export const BUCKET_PREFIX = 'b/';
export const INTENT_PREFIX = 'g/';

export function bucketKey(bucket: string): string {
  assert(!bucket.includes('/'), 'bucket names never contain "/"');
  return `b/${bucket}`;
}

export function headPrefix(bucket: string): Buffer {
  assert(!bucket.includes('/'), 'bucket names never contain "/"');
  return Buffer.from(`o/${bucket}/`, 'utf8');
}

export function headKey(bucket: string, key: string): Buffer {
  return Buffer.concat([headPrefix(bucket), Buffer.from(key, 'utf8')]);
}

export function partListKey(versionId: string): string {
  return `l/${versionId}`;
}

export function intentKey(versionId: string): string {
  return `g/${versionId}`;
}

export function chunkPrefix(dataId: string): string {
  return `d/${dataId}/`;
}

export function chunkKey(dataId: string, index: number): string {
  assert(Number.isInteger(index) && index >= 0 && index < 2 ** 32, 'chunk index fits 8 hex digits');
  return `d/${dataId}/${index.toString(16).padStart(8, '0')}`;
}

export function chunkCount(bytes: number): number {
  return Math.ceil(bytes / CHUNK_BYTES);
}

const ID_BYTES = 16;
/** Random bytes fetched at once for ids (one randomBytes call per 256 ids). */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolAt = ID_POOL_BYTES;

/** Version and data ids: 32 lower-case hex characters, unique per write. */
export function newId(): string {
  if (idPoolAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolAt = 0;
  }
  const id = idPool.toString('hex', idPoolAt, idPoolAt + ID_BYTES);
  idPoolAt += ID_BYTES;
  return id;
}
