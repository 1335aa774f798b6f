// Test support: an engine port over a real BlobEngine whose chosen `get`s read at call time but
// deliver their result only when released, to replay "read, then something commits, then the
// reader continues" interleavings deterministically.
import type { BlobEngine } from '@blobcache/engine';
import type { EngineKey, EnginePort } from '../store/engine-port.ts';

export type HeldReads = {
  port: EnginePort;
  /** Holds the next `n` gets whose key passes `which` (default: every key). */
  hold(n: number, which?: (key: string) => boolean): void;
  /** Delivers every held result. */
  releaseAll(): void;
};

export function heldReads(engine: BlobEngine): HeldReads {
  let remaining = 0;
  let which: (key: string) => boolean = () => true;
  const held: Array<() => void> = [];
  const port: EnginePort = {
    put: (k, v) => engine.put(k, v),
    delete: (k) => engine.delete(k),
    keys: (o) => engine.keys(o),
    stats: () => engine.stats(),
    close: () => engine.close(),
    get: (k: EngineKey) => {
      const result = engine.get(k);
      const key = typeof k === 'string' ? k : Buffer.from(k).toString('latin1');
      if (remaining === 0 || !which(key)) return result;
      remaining--;
      return new Promise((resolve) => held.push(() => resolve(result)));
    },
  };
  return {
    port,
    hold: (n, w = () => true) => {
      remaining = n;
      which = w;
    },
    releaseAll: () => {
      for (const release of held.splice(0)) release();
    },
  };
}
