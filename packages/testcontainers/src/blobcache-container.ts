// A Testcontainers module for the blobcache S3 gateway, in the style of @testcontainers/minio.
//
// Invariants:
// - A started container always has explicit credentials (the gateway refuses to bind a
//   non-loopback address without them), and the S3 client settings handed out target it with
//   path-style addressing, since the mapped host is an IP or `localhost` without wildcard DNS.
// - Everything the container is told goes through the gateway's own BLOBCACHE_* environment
//   variables; getGatewayEnvironment() is exactly what start() hands the container, so it can be
//   checked against the gateway's config schema without a Docker engine.
// - Settings are checked when they are given (a clear BlobcacheContainerError), not discovered as
//   a container that never turns healthy.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

const S3_PORT = 9000;
export const DEFAULT_BLOBCACHE_IMAGE = 'blobcache:local';
/** The gateway's smallest non-zero disk budget (room for its two 32 MiB memtables). */
export const MIN_MAX_BYTES = 64 * 2 ** 20;

export type BlobcacheLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export class BlobcacheContainerError extends Error {
  override name = 'BlobcacheContainerError';
}

export interface BlobcacheS3ClientConfig {
  endpoint: string;
  region: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface BlobcacheUpstreamOptions {
  /** Region the gateway signs upstream requests for (default us-east-1). */
  region?: string;
  /** Path-style upstream addressing; most S3-compatible servers need it (default true). */
  forcePathStyle?: boolean;
  /** Which local buckets are read through which upstream buckets, e.g. `photos=prod-photos,logs` (default `*`). */
  buckets?: string;
}

// The units BLOBCACHE_MAX_BYTES accepts (apps/gateway/src/config.ts parseByteSize); the unit tests
// hand every form used here to the gateway's own parser, so a drift shows there.
const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

function byteCount(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
const DURATION = /^\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h)?\s*$/i;

/** The repository root, where `docker build -f infra/Dockerfile .` runs. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Builds the gateway image from infra/Dockerfile (a Docker engine is needed) and tags it, so that
 * `new BlobcacheContainer(tag)` can start it. Returns the tag.
 */
export async function buildBlobcacheImage(options: { tag?: string; context?: string } = {}): Promise<string> {
  const tag = options.tag ?? DEFAULT_BLOBCACHE_IMAGE;
  await GenericContainer.fromDockerfile(options.context ?? REPOSITORY_ROOT, 'infra/Dockerfile').build(tag, {
    deleteOnExit: false,
  });
  return tag;
}

export class BlobcacheContainer extends GenericContainer {
  private accessKeyId = 'blobcache';
  private secretAccessKey = randomBytes(18).toString('base64url');
  private region = 'us-east-1';
  private maxBytes: string | undefined;
  private logLevel: BlobcacheLogLevel | undefined;
  private cacheTtl: string | undefined;
  private upstream: { endpoint: string; accessKeyId: string; secretAccessKey: string } | undefined;
  private upstreamOptions: Required<BlobcacheUpstreamOptions> = {
    region: 'us-east-1',
    forcePathStyle: true,
    buckets: '*',
  };

  constructor(image: string = DEFAULT_BLOBCACHE_IMAGE) {
    super(image);
    this.withExposedPorts(S3_PORT);
    this.withWaitStrategy(Wait.forHttp('/_blobcache/health', S3_PORT).forStatusCode(200));
  }

  /** The access key pair clients sign with. Default: `blobcache` and a random secret. */
  withCredentials(accessKeyId: string, secretAccessKey: string): this {
    // BLOBCACHE_CREDENTIALS is `id:secret` pairs split on commas, then on the first colon.
    if (accessKeyId === '' || /[:,]/.test(accessKeyId)) {
      throw new BlobcacheContainerError(
        `access key id must be non-empty without ':' or ',': "${accessKeyId}"`,
      );
    }
    if (secretAccessKey === '' || secretAccessKey.includes(',')) {
      throw new BlobcacheContainerError('secret access key must be non-empty without ","');
    }
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    return this;
  }

  withRegion(region: string): this {
    if (region.trim() === '') throw new BlobcacheContainerError('region must be non-empty');
    this.region = region;
    return this;
  }

  /**
   * Disk budget: a byte count or a size with a unit (`512MiB`, `20GiB`, `1GB`). Store mode refuses
   * writes past it (507); with an upstream it is the cache's budget and SIEVE evicts. 0 = unbounded.
   */
  withMaxBytes(maxBytes: number | string): this {
    const bytes = typeof maxBytes === 'number' ? maxBytes : byteCount(maxBytes);
    if (bytes === undefined) {
      throw new BlobcacheContainerError(`maxBytes is not a byte size: "${maxBytes}" (e.g. 512MiB, 20GiB)`);
    }
    if (!Number.isSafeInteger(bytes) || bytes < 0 || (bytes > 0 && bytes < MIN_MAX_BYTES)) {
      throw new BlobcacheContainerError(
        `maxBytes must be 0 or at least 64MiB (${MIN_MAX_BYTES} bytes): ${maxBytes}`,
      );
    }
    this.maxBytes = typeof maxBytes === 'number' ? String(maxBytes) : maxBytes.trim();
    return this;
  }

  withLogLevel(level: BlobcacheLogLevel): this {
    if (!LOG_LEVELS.includes(level)) throw new BlobcacheContainerError(`unknown log level: "${level}"`);
    this.logLevel = level;
    return this;
  }

  /**
   * Read-through cache mode: the gateway reads misses from, and writes through to, this S3
   * endpoint (as seen from inside the container, e.g. `http://minio:9000` on a shared network).
   */
  withUpstream(
    endpoint: string,
    accessKeyId: string,
    secretAccessKey: string,
    options: BlobcacheUpstreamOptions = {},
  ): this {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new BlobcacheContainerError(`upstream endpoint is not a URL: "${endpoint}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new BlobcacheContainerError(`upstream endpoint must be http(s): "${endpoint}"`);
    }
    if (accessKeyId === '' || secretAccessKey === '') {
      throw new BlobcacheContainerError('upstream access key id and secret must be non-empty');
    }
    this.upstream = { endpoint, accessKeyId, secretAccessKey };
    this.upstreamOptions = { ...this.upstreamOptions, ...options };
    return this;
  }

  /** Which buckets are read through the upstream (`local=upstream` or `name`, comma-separated; `*` = all). */
  withUpstreamBuckets(buckets: string): this {
    if (buckets.trim() === '') throw new BlobcacheContainerError('upstream bucket map must be non-empty');
    this.upstreamOptions = { ...this.upstreamOptions, buckets };
    return this;
  }

  /** How long a cached object is served without asking the upstream (`30s`, `5m`; `0` = always revalidate). */
  withCacheTtl(ttl: string): this {
    if (!DURATION.test(ttl))
      throw new BlobcacheContainerError(`cache TTL is not a duration: "${ttl}" (e.g. 30s, 5m)`);
    this.cacheTtl = ttl.trim();
    return this;
  }

  /**
   * The environment start() hands the container: the BLOBCACHE_* settings above, then anything
   * given with withEnvironment() (which wins, as an escape hatch for settings without a method).
   */
  getGatewayEnvironment(): Record<string, string> {
    const env: Record<string, string> = {
      BLOBCACHE_HOST: '0.0.0.0',
      BLOBCACHE_PORT: String(S3_PORT),
      BLOBCACHE_CREDENTIALS: `${this.accessKeyId}:${this.secretAccessKey}`,
      BLOBCACHE_REGION: this.region,
    };
    if (this.maxBytes !== undefined) env.BLOBCACHE_MAX_BYTES = this.maxBytes;
    if (this.logLevel !== undefined) env.BLOBCACHE_LOG_LEVEL = this.logLevel;
    if (this.cacheTtl !== undefined) env.BLOBCACHE_CACHE_TTL = this.cacheTtl;
    if (this.upstream) {
      env.BLOBCACHE_UPSTREAM_ENDPOINT = this.upstream.endpoint;
      env.BLOBCACHE_UPSTREAM_ACCESS_KEY_ID = this.upstream.accessKeyId;
      env.BLOBCACHE_UPSTREAM_SECRET_ACCESS_KEY = this.upstream.secretAccessKey;
      env.BLOBCACHE_UPSTREAM_REGION = this.upstreamOptions.region;
      env.BLOBCACHE_UPSTREAM_FORCE_PATH_STYLE = String(this.upstreamOptions.forcePathStyle);
      env.BLOBCACHE_UPSTREAM_BUCKETS = this.upstreamOptions.buckets;
    }
    return { ...env, ...this.environment };
  }

  override async start(): Promise<StartedBlobcacheContainer> {
    const env = this.getGatewayEnvironment();
    this.withEnvironment(env);
    // Credentials given raw through withEnvironment() are the ones the container checks.
    const pair = (env.BLOBCACHE_CREDENTIALS ?? '').split(',')[0] ?? '';
    const colon = pair.indexOf(':');
    const accessKeyId = colon > 0 ? pair.slice(0, colon) : this.accessKeyId;
    const secretAccessKey = colon > 0 ? pair.slice(colon + 1) : this.secretAccessKey;
    const started = await super.start();
    return new StartedBlobcacheContainer(
      started,
      accessKeyId,
      secretAccessKey,
      env.BLOBCACHE_REGION ?? this.region,
    );
  }
}

export class StartedBlobcacheContainer extends AbstractStartedContainer {
  private readonly accessKeyId: string;
  private readonly secretAccessKey: string;
  private readonly region: string;

  constructor(started: StartedTestContainer, accessKeyId: string, secretAccessKey: string, region: string) {
    super(started);
    this.accessKeyId = accessKeyId;
    this.secretAccessKey = secretAccessKey;
    this.region = region;
  }

  getPort(): number {
    return this.startedTestContainer.getMappedPort(S3_PORT);
  }

  /** `http://<host>:<mapped port>` */
  getEndpoint(): string {
    return `http://${this.getHost()}:${this.getPort()}`;
  }

  /** Same as getEndpoint(), under @testcontainers/minio's name. */
  getConnectionUrl(): string {
    return this.getEndpoint();
  }

  getAccessKeyId(): string {
    return this.accessKeyId;
  }

  getSecretAccessKey(): string {
    return this.secretAccessKey;
  }

  getRegion(): string {
    return this.region;
  }

  /** Settings for `new S3Client(...)` from `@aws-sdk/client-s3`. */
  getS3ClientConfig(): BlobcacheS3ClientConfig {
    return {
      endpoint: this.getEndpoint(),
      region: this.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
    };
  }
}
