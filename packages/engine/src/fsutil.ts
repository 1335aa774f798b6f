// Invariant: a file written through writeFileAtomic is either absent or complete and durable
// (data fdatasync'ed, rename done, directory fsync'ed) when the promise resolves.

import { open, rename, unlink } from 'node:fs/promises';

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeAll(
  fh: import('node:fs/promises').FileHandle,
  buf: Uint8Array,
  pos: number,
): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos + off);
    if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
    off += bytesWritten;
  }
}

/**
 * Creates (or truncates) `path` with `data`, fdatasync'ed. Its directory entry is NOT synced.
 * `mode` applies when the file is created (e.g. 0o600 for a key).
 */
export async function writeFileSynced(path: string, data: Uint8Array, mode?: number): Promise<void> {
  const fh = await open(path, 'w', mode);
  try {
    await writeAll(fh, data, 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function writeFileAtomic(
  path: string,
  dir: string,
  data: Uint8Array,
  mode?: number,
): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFileSynced(tmp, data, mode);
  await rename(tmp, path);
  await syncDir(dir);
}

/**
 * tmp + write + rename WITHOUT any sync: atomic against a process crash (the page cache keeps
 * the bytes), not against power loss. For cache-mode files only, whose readers verify CRCs.
 */
export async function writeFileReplacing(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await writeAll(fh, data, 0);
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** fdatasync an existing file (opened read-only: fsync needs no write access on Linux). */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
