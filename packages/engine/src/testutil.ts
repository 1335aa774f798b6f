// Test helpers (temp directories); imported only by *.test.ts files.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'blobengine-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A deterministic xorshift32 stream: rng(seed)(n) is in [0, n); failures reproduce. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Runs crash-child.fixture.ts with the given ops; resolves once the child killed itself. */
export async function runAndCrash(
  dir: string,
  options: Record<string, unknown>,
  ops: (string | undefined)[][],
): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const script = fileURLToPath(new URL('./crash-child.fixture.ts', import.meta.url));
  const opsFile = `${dir}.ops.json`;
  await writeFile(opsFile, JSON.stringify(ops));
  const child = spawn(process.execPath, [script, dir, JSON.stringify(options), opsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
    child.on('close', (_code, sig) => resolve(sig));
  });
  await rm(opsFile, { force: true });
  if (!out.includes('DONE') || signal !== 'SIGKILL') {
    throw new Error(`crash child failed (signal ${signal}): ${err.slice(0, 2000)}`);
  }
}
