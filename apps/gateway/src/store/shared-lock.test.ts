import { describe, expect, it } from 'vitest';
import { SharedLock } from './shared-lock.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SharedLock', () => {
  it('runs shared holders together and an exclusive one alone, in arrival order', async () => {
    const lock = new SharedLock();
    const log: string[] = [];
    const a = deferred();
    const b = deferred();
    const x = deferred();
    const pa = lock.shared('k', async () => {
      log.push('a+');
      await a.promise;
      log.push('a-');
    });
    const pb = lock.shared('k', async () => {
      log.push('b+');
      await b.promise;
      log.push('b-');
    });
    const px = lock.exclusive('k', async () => {
      log.push('x+');
      await x.promise;
      log.push('x-');
    });
    // Queued behind the exclusive request: must not overtake it.
    const pc = lock.shared('k', async () => {
      log.push('c');
    });
    await tick();
    expect(log).toEqual(['a+', 'b+']);
    a.resolve();
    await pa;
    await tick();
    expect(log).toEqual(['a+', 'b+', 'a-']);
    b.resolve();
    await pb;
    await tick();
    expect(log).toEqual(['a+', 'b+', 'a-', 'b-', 'x+']);
    x.resolve();
    await Promise.all([px, pc]);
    expect(log).toEqual(['a+', 'b+', 'a-', 'b-', 'x+', 'x-', 'c']);
  });

  it('releases on failure and keeps keys independent', async () => {
    const lock = new SharedLock();
    await expect(
      lock.exclusive('k', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const gate = deferred();
    const held = lock.exclusive('k', () => gate.promise);
    let other = false;
    await lock.exclusive('other', async () => {
      other = true;
    });
    expect(other).toBe(true);
    gate.resolve();
    await held;
    expect(await lock.shared('k', async () => 42)).toBe(42);
  });
});
