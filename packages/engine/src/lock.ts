// Invariant: at most one live engine instance owns a directory. Two writers on one directory
// would interleave segment ids, WAL files and LMDB transactions and corrupt each other. The LOCK
// file names the owner's pid; a LOCK whose pid is dead (kill -9) is stale and taken over, which
// keeps open crash-only.

import { open, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from './errors.ts';

const LOCK_FILE = 'LOCK';
const ownedInThisProcess = new Set<string>();

export class DirectoryLockedError extends EngineError {
  constructor(dir: string, owner: string) {
    super('LOCKED', `directory ${dir} is in use by ${owner}`);
  }
}

export interface DirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireDirLock(dir: string): Promise<DirLock> {
  const real = await realpath(dir);
  if (ownedInThisProcess.has(real)) throw new DirectoryLockedError(dir, 'another engine in this process');
  const path = join(dir, LOCK_FILE);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new DirectoryLockedError(dir, `process ${pid}`);
    }
    fh = await open(path, 'w'); // stale: its owner is gone
  }
  try {
    await fh.writeFile(`${process.pid}\n`);
  } finally {
    await fh.close();
  }
  ownedInThisProcess.add(real);
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      ownedInThisProcess.delete(real);
      await unlink(path).catch(() => undefined);
    },
  };
}
