import { describe, expect, it } from 'vitest';
import { BlobEngine } from './engine.ts';
import { collect, withTempDir } from './testutil.ts';

/** Deterministic xorshift so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** A value that names its key and version and fills its length with a pattern derived from both. */
function makeValue(key: string, version: number, size: number): Buffer {
  const head = Buffer.from(`${key}#${version}#`);
  const buf = Buffer.alloc(Math.max(size, head.length));
  head.copy(buf);
  for (let i = head.length; i < buf.length; i++) buf[i] = (version * 31 + i) & 0xff;
  return buf;
}

function parseValue(buf: Buffer): { key: string; version: number } {
  const text = buf.toString('latin1', 0, Math.min(buf.length, 64));
  const [key, v] = text.split('#');
  const version = Number(v);
  const head = `${key}#${version}#`.length;
  for (let i = head; i < buf.length; i++) {
    if (buf[i] !== ((version * 31 + i) & 0xff))
      throw new Error(`torn value for ${key}#${version} at byte ${i}`);
  }
  return { key: key as string, version };
}

describe.each(['durable', 'cache'] as const)('concurrency (%s mode)', (durability) => {
  it('interleaved puts/gets/deletes on overlapping keys: last issued write wins, no torn values', async () => {
    await withTempDir(async (dir) => {
      const opts = { durability, memtableBytes: 64 * 1024, maxInflightMemtables: 1 };
      const e = await BlobEngine.open(dir, opts);
      const next = rng(durability === 'durable' ? 7 : 11);
      const keys = Array.from({ length: 20 }, (_, i) => `key/${i}`);
      const expected = new Map<string, number | null>();
      const written = new Map<string, Set<number>>();
      const pending: Promise<unknown>[] = [];
      const readProblems: string[] = [];
      for (let op = 0; op < 3000; op++) {
        const key = keys[Math.floor(next() * keys.length)]!;
        const r = next();
        if (r < 0.55) {
          const size = next() < 0.1 ? 20_000 + Math.floor(next() * 60_000) : Math.floor(next() * 3000);
          expected.set(key, op);
          const s = written.get(key) ?? new Set<number>();
          written.set(key, s);
          s.add(op);
          pending.push(e.put(key, makeValue(key, op, size)));
        } else if (r < 0.7) {
          expected.set(key, null);
          pending.push(e.delete(key));
        } else {
          pending.push(
            e.get(key).then((v) => {
              if (!v) return;
              const p = parseValue(v);
              if (p.key !== key || !written.get(key)?.has(p.version))
                readProblems.push(`${key} read ${p.key}#${p.version}`);
            }),
          );
        }
        if (op % 97 === 0) await Promise.resolve(); // let some of them run between issues
      }
      await Promise.all(pending);
      expect(readProblems).toEqual([]);
      const check = async (eng: BlobEngine): Promise<void> => {
        for (const key of keys) {
          const want = expected.get(key);
          const got = await eng.get(key);
          if (want === null || want === undefined) expect(got, key).toBeUndefined();
          else expect(got && parseValue(got), key).toEqual({ key, version: want });
        }
        const listed = (await collect(eng.keys({ prefix: 'key/' }))).map((x) => x.key.toString());
        const live = keys.filter((k) => typeof expected.get(k) === 'number').sort();
        expect(listed).toEqual(live);
      };
      await check(e);
      expect(e.stats().flushes).toBeGreaterThan(2);
      await e.close();
      const f = await BlobEngine.open(dir, opts);
      await check(f);
      await f.close();
    });
  });

  it('flush() completes while other writers keep the engine busy', async () => {
    await withTempDir(async (dir) => {
      const e = await BlobEngine.open(dir, { durability, memtableBytes: 64 * 1024, maxInflightMemtables: 2 });
      let stop = false;
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; !stop; i++) await e.put(`w${w}/${i % 50}`, Buffer.alloc(3000, i));
      });
      for (let round = 0; round < 5; round++) await e.flush();
      stop = true;
      await Promise.all(writers);
      expect(e.stats().flushes).toBeGreaterThan(4);
      await e.close();
    });
  });
});
