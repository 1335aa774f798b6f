import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { deriveShards, resolveConfig } from './config.ts';
import { ConfigError } from './errors.ts';

describe('resolveConfig', () => {
  it('applies mode-dependent defaults', () => {
    const d = resolveConfig(undefined);
    expect(d).toMatchObject({
      durability: 'durable',
      onFull: 'reject',
      verifyKeys: true,
      maxInlineValueBytes: 4096,
    });
    const c = resolveConfig({ durability: 'cache' });
    expect(c).toMatchObject({ onFull: 'evict', verifyKeys: false });
    expect(resolveConfig({ durability: 'cache', onFull: 'reject', verifyKeys: true })).toMatchObject({
      onFull: 'reject',
      verifyKeys: true,
    });
    expect(Object.isFrozen(d)).toBe(true);
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    expect(() => resolveConfig({ maxKeyBytes: 5000 })).toThrow(ConfigError);
    expect(() => resolveConfig({ durability: 'fast' as 'cache' })).toThrow(/durability/);
    expect(() => resolveConfig({ bogus: 1 } as never)).toThrow(ConfigError);
    expect(() => resolveConfig({ logger: {} as never })).toThrow(/logger/);
    expect(() => resolveConfig({ memtableBytes: 1 << 20, maxBytes: 1 << 20 })).toThrow(ConfigError);
  });

  it('sizes memtables for small stores unless chosen, accepts a pino logger', () => {
    expect(resolveConfig({ maxBytes: 1 << 20 }).memtableBytes).toBe(128 * 1024);
    expect(resolveConfig({ maxBytes: 2 ** 40 }).memtableBytes).toBe(32 * 1024 * 1024);
    const logger = pino({ level: 'silent' });
    expect(resolveConfig({ logger }).logger).toBe(logger);
  });

  it('prefaults memtables only when asked to', () => {
    expect(resolveConfig({}).prefaultMemtables).toBe(false); // opt-in: it cost durable 1 MiB puts
    expect(resolveConfig({ readCacheBytes: 0, prefaultMemtables: true }).prefaultMemtables).toBe(true);
  });

  it('keeps two idle slabs for reuse by default, a bounded count, 0 = off', () => {
    expect(resolveConfig({}).maxIdleSlabs).toBe(2);
    expect(resolveConfig({ maxIdleSlabs: 0 }).maxIdleSlabs).toBe(0);
    expect(() => resolveConfig({ maxIdleSlabs: -1 })).toThrow(ConfigError);
    expect(() => resolveConfig({ maxIdleSlabs: 17 })).toThrow(ConfigError);
  });

  it('derives the shard count from the expected number of segment files', () => {
    expect(deriveShards(resolveConfig({}))).toBe(1);
    expect(deriveShards(resolveConfig({ shards: 16 }))).toBe(16);
    expect(deriveShards(resolveConfig({ maxBytes: 2 ** 40, memtableBytes: 32 * 2 ** 20 }))).toBe(64);
  });
});
