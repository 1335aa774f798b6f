import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundedTtlMap } from './bounded-ttl-map.ts';
import { BucketMapError, parseBucketMap } from './bucket-map.ts';
import { parseDurationMs } from './config-fields.ts';
import { CacheCounters, registerCacheCounters } from './counters.ts';
import { KeyFence } from './key-fence.ts';
import { SingleFlight } from './single-flight.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import { headFieldsFrom, unquoteEtag } from './upstream-head.ts';

describe('parseBucketMap', () => {
  it('maps every bucket under its own name with *', () => {
    const m = parseBucketMap('*');
    expect(m.all).toBe(true);
    expect(m.upstreamFor('photos')).toBe('photos');
  });
  it('maps listed buckets and leaves the rest local', () => {
    const m = parseBucketMap(' photos=prod-photos , logs ');
    expect(m.upstreamFor('photos')).toBe('prod-photos');
    expect(m.upstreamFor('logs')).toBe('logs');
    expect(m.upstreamFor('other')).toBeUndefined();
  });
  it('rejects bad names, duplicates and empty lists with a clear error', () => {
    expect(() => parseBucketMap('Bad_Name')).toThrow(BucketMapError);
    expect(() => parseBucketMap('a1b=x1y,a1b=z1z')).toThrow(/mapped twice/);
    expect(() => parseBucketMap(' , ')).toThrow(/no bucket/);
  });
});

describe('parseDurationMs', () => {
  it('reads units and bare seconds', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('2')).toBe(2000);
    expect(parseDurationMs('0')).toBe(0);
  });
  it('rejects garbage', () => {
    expect(() => parseDurationMs('soon')).toThrow(/not a duration/);
    expect(() => parseDurationMs('-1s')).toThrow(/not a duration/);
  });
});

describe('BoundedTtlMap', () => {
  it('expires entries and never exceeds its cap (oldest insertion goes first)', () => {
    let now = 1000;
    const m = new BoundedTtlMap<number>(2, () => now);
    m.set('a', 1, 100);
    m.set('b', 2, 100);
    m.set('c', 3, 100);
    expect(m.size).toBe(2);
    expect(m.get('a')).toBeUndefined();
    expect(m.get('b')).toBe(2);
    now += 100;
    expect(m.get('b')).toBeUndefined();
    m.set('z', 9, 0);
    expect(m.get('z')).toBeUndefined();
  });
  it('deletes by prefix', () => {
    const m = new BoundedTtlMap<number>(10);
    m.set('b/x/1', 1, 1000);
    m.set('b/x/2', 1, 1000);
    m.set('b/y', 1, 1000);
    expect(m.deletePrefix('b/x/')).toBe(2);
    expect(m.get('b/y')).toBe(1);
  });
});

describe('SingleFlight', () => {
  it('runs one flight per key and lets later callers join it', async () => {
    const sf = new SingleFlight<number>();
    let calls = 0;
    let release!: (n: number) => void;
    const fn = () => {
      calls++;
      return new Promise<number>((r) => {
        release = r;
      });
    };
    const a = sf.run('k', fn);
    const b = sf.run('k', fn);
    expect(a.leader).toBe(true);
    expect(b.leader).toBe(false);
    release(7);
    expect(await a.value).toBe(7);
    expect(await b.value).toBe(7);
    expect(calls).toBe(1);
    expect(sf.size).toBe(0);
    const c = sf.run('k', async () => 8);
    expect(c.leader).toBe(true);
    expect(await c.value).toBe(8);
  });
  it('stays joinable until the work its result started has ended', async () => {
    const sf = new SingleFlight<string>();
    let finish!: () => void;
    const work = new Promise<void>((r) => {
      finish = r;
    });
    const a = sf.run(
      'k',
      async () => 'fill',
      () => work,
    );
    expect(await a.value).toBe('fill');
    const b = sf.run('k', async () => 'second');
    expect(b.leader).toBe(false);
    expect(await b.value).toBe('fill');
    finish();
    await work;
    await Promise.resolve();
    expect(sf.run('k', async () => 'third').leader).toBe(true);
  });

  it('forgets failed flights and detached flights', async () => {
    const sf = new SingleFlight<number>();
    const a = sf.run('k', async () => {
      throw new Error('boom');
    });
    await expect(a.value).rejects.toThrow('boom');
    const b = sf.run('k', () => new Promise<number>(() => {}));
    sf.detach('k');
    const c = sf.run('k', async () => 1);
    expect(b.leader && c.leader).toBe(true);
  });
});

describe('KeyFence', () => {
  it('poisons reads in flight when a write starts, and reads that start during a write', () => {
    const f = new KeyFence();
    const before = f.beginRead('b/k');
    const other = f.beginRead('b/other');
    const write = f.beginWrite('b/k');
    const during = f.beginRead('b/k');
    expect(before.poisoned).toBe(true);
    expect(during.poisoned).toBe(true);
    expect(other.poisoned).toBe(false);
    write.end();
    const after = f.beginRead('b/k');
    expect(after.poisoned).toBe(false);
    for (const t of [before, other, during, after]) t.end();
    expect(f.size).toBe(0);
  });
  it('poisons by prefix', () => {
    const f = new KeyFence();
    const a = f.beginRead('b/dir/a');
    const b = f.beginRead('b/else');
    f.poisonPrefix('b/dir/');
    expect(a.poisoned).toBe(true);
    expect(b.poisoned).toBe(false);
  });
  it('marks writes to one key that overlap in time, both of them, and only those', () => {
    const f = new KeyFence();
    const alone = f.beginWrite('b/k');
    alone.end();
    expect(alone.overlapped).toBe(false);
    const first = f.beginWrite('b/k');
    const elsewhere = f.beginWrite('b/other');
    expect(first.overlapped).toBe(false);
    const second = f.beginWrite('b/k');
    expect(first.overlapped).toBe(true);
    expect(second.overlapped).toBe(true);
    expect(elsewhere.overlapped).toBe(false);
    first.end();
    second.end();
    const later = f.beginWrite('b/k');
    expect(later.overlapped).toBe(false);
    later.end();
    elsewhere.end();
    expect(f.size).toBe(0);
  });
});

describe('counters', () => {
  it('are exposed through a prom-client registry, read at scrape time', async () => {
    const c = new CacheCounters();
    const registry = new Registry();
    registerCacheCounters(registry, c);
    c.inc('hits', 3);
    c.inc('upstreamBytes', 10);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE blobcache_upstream_hits_total counter\nblobcache_upstream_hits_total 3\n');
    expect(text).toContain('\nblobcache_upstream_upstream_bytes_total 10\n');
    expect(text).toContain('\nblobcache_upstream_misses_total 0\n');
    c.inc('hits');
    expect(await registry.metrics()).toContain('\nblobcache_upstream_hits_total 4\n');
  });
});

describe('classifyUpstreamError', () => {
  const sdkError = (name: string, status: number | undefined, extra: object = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });
  it('tells 304, 404s, client errors and upstream trouble apart', () => {
    expect(classifyUpstreamError(sdkError('NotModified', 304)).kind).toBe('notModified');
    expect(classifyUpstreamError(sdkError('NoSuchKey', 404))).toEqual({ kind: 'missing', code: 'NoSuchKey' });
    expect(classifyUpstreamError(sdkError('NotFound', 404))).toEqual({ kind: 'missing', code: 'NoSuchKey' });
    expect(classifyUpstreamError(sdkError('NoSuchBucket', 404))).toEqual({
      kind: 'missing',
      code: 'NoSuchBucket',
    });
    const denied = classifyUpstreamError(sdkError('AccessDenied', 403));
    expect(denied.kind === 'rejected' && denied.error.code).toBe('AccessDenied');
    const down = classifyUpstreamError(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    expect(down).toEqual({ kind: 'unavailable', detail: 'is unreachable (ECONNREFUSED)' });
    expect(classifyUpstreamError(sdkError('InternalError', 500)).kind).toBe('unavailable');
    expect(classifyUpstreamError(sdkError('SlowDown', 503)).kind).toBe('unavailable');
    expect(classifyUpstreamError(sdkError('TimeoutError', undefined)).kind).toBe('unavailable');
  });
});

describe('headFieldsFrom', () => {
  it('keeps what upstream reported', () => {
    const f = headFieldsFrom({
      ContentLength: 3,
      ETag: '"abc"',
      LastModified: new Date('2026-01-02T03:04:05Z'),
      ContentType: 'text/plain',
      CacheControl: 'max-age=5',
      Metadata: { Color: 'blue' },
    });
    expect(f).toMatchObject({
      size: 3,
      etag: 'abc',
      lastModifiedMs: Date.parse('2026-01-02T03:04:05Z'),
      contentType: 'text/plain',
      cacheControl: 'max-age=5',
      meta: { color: 'blue' },
    });
    expect(unquoteEtag('"x-2"')).toBe('x-2');
    expect(() => headFieldsFrom({ ETag: '"a"' })).toThrow(/Content-Length/);
  });
});
