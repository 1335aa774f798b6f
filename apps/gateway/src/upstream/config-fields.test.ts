import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, renderHelp } from '../config.ts';

describe('upstream settings in the gateway config', () => {
  it('are absent by default (store mode)', () => {
    const c = loadConfig([], {});
    expect(c.upstreamEndpoint).toBeUndefined();
    expect(c.upstreamBuckets).toBe('*');
    expect(c.cacheTtlMs).toBe(60_000);
  });

  it('come from the environment and flags, with units', () => {
    const c = loadConfig(['--cache-ttl', '5m', '--upstream-force-path-style', 'true'], {
      BLOBCACHE_UPSTREAM_ENDPOINT: 'http://127.0.0.1:9001',
      BLOBCACHE_UPSTREAM_REGION: 'eu-west-1',
      BLOBCACHE_UPSTREAM_ACCESS_KEY_ID: 'gw',
      BLOBCACHE_UPSTREAM_SECRET_ACCESS_KEY: 's/e+c=ret',
      BLOBCACHE_UPSTREAM_BUCKETS: 'photos=prod-photos,logs',
      BLOBCACHE_NEGATIVE_TTL: '500ms',
      BLOBCACHE_UPSTREAM_TIMEOUT: '10s',
    });
    expect(c).toMatchObject({
      upstreamEndpoint: 'http://127.0.0.1:9001',
      upstreamRegion: 'eu-west-1',
      upstreamAccessKeyId: 'gw',
      upstreamSecretAccessKey: 's/e+c=ret',
      upstreamForcePathStyle: true,
      upstreamBuckets: 'photos=prod-photos,logs',
      cacheTtlMs: 300_000,
      negativeTtlMs: 500,
      upstreamTimeoutMs: 10_000,
    });
  });

  it('reject bad values naming the variable', () => {
    expect(() => loadConfig([], { BLOBCACHE_UPSTREAM_ENDPOINT: 'ftp://x' })).toThrow(ConfigError);
    expect(() => loadConfig([], { BLOBCACHE_UPSTREAM_BUCKETS: 'Not_A_Bucket' })).toThrow(
      /BLOBCACHE_UPSTREAM_BUCKETS/,
    );
    expect(() => loadConfig([], { BLOBCACHE_CACHE_TTL: 'soon' })).toThrow(/BLOBCACHE_CACHE_TTL/);
    expect(() => loadConfig([], { BLOBCACHE_UPSTREAM_TIMEOUT: '0' })).toThrow(/must be positive/);
  });

  it('appear in --help', () => {
    expect(renderHelp()).toContain('--upstream-endpoint');
    expect(renderHelp()).toContain('env BLOBCACHE_NEGATIVE_TTL');
  });
});
