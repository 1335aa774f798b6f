import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { DirectoryLockedError } from './lock.ts';
import { withTempDir } from './testutil.ts';

describe('directory lock', () => {
  it('refuses a second open while the first is live, allows it after close', async () => {
    await withTempDir(async (dir) => {
      const a = await BlobEngine.open(dir);
      await expect(BlobEngine.open(dir)).rejects.toBeInstanceOf(DirectoryLockedError);
      await a.close();
      const b = await BlobEngine.open(dir);
      await b.close();
    });
  });

  it('takes over a LOCK left by a dead process, refuses one held by a live process', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'LOCK'), '999999999\n');
      const a = await BlobEngine.open(dir);
      await a.close();
      await writeFile(join(dir, 'LOCK'), `${process.ppid}\n`);
      await expect(BlobEngine.open(dir)).rejects.toBeInstanceOf(DirectoryLockedError);
    });
  });
});
