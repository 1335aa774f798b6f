// The upstream (read-through cache) settings, as fields of the gateway's ONE zod config schema
// (config.ts spreads them in), so env names, flags, defaults, `--help` and the README table come
// from the same place as every other setting.
// Invariant: no endpoint = no upstream = store mode; nothing here changes store mode.
import { z } from 'zod';
import { parseBucketMap } from './bucket-map.ts';

/** Parses `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds, into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m)
    throw new Error(`not a duration: "${text}" (use e.g. 500ms, 30s, 5m, 1h; a bare number is seconds)`);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(ms)) throw new Error(`duration too large: "${text}"`);
  return ms;
}

/** A duration setting: milliseconds, or text parseDurationMs reads. */
export const durationMs = z.union([
  z.number().int().nonnegative(),
  z.string().transform((s, ctx) => {
    try {
      return parseDurationMs(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
]);

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((s) => s === 'true' || s === '1' || s === 'yes'),
]);

type FieldMeta = { env: string; flag: string; description: string; example?: string };
const meta = (m: FieldMeta) => m;

export const upstreamConfigFields = {
  upstreamEndpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_ENDPOINT',
        flag: '--upstream-endpoint',
        description:
          'S3 endpoint to cache (read-through, write-through), e.g. `https://s3.eu-west-1.amazonaws.com`. Unset: no upstream, the gateway is a store.',
      }),
    ),
  upstreamRegion: z
    .string()
    .min(1)
    .default('us-east-1')
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_REGION',
        flag: '--upstream-region',
        description: 'Region the gateway signs upstream requests for.',
      }),
    ),
  upstreamAccessKeyId: z
    .string()
    .min(1)
    .optional()
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_ACCESS_KEY_ID',
        flag: '--upstream-access-key-id',
        description:
          "The gateway's own access key for the upstream. Unset (with the secret): the standard AWS credential chain.",
      }),
    ),
  upstreamSecretAccessKey: z
    .string()
    .min(1)
    .optional()
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_SECRET_ACCESS_KEY',
        flag: '--upstream-secret-access-key',
        description: 'Secret for BLOBCACHE_UPSTREAM_ACCESS_KEY_ID.',
      }),
    ),
  upstreamForcePathStyle: bool.default(false).meta(
    meta({
      env: 'BLOBCACHE_UPSTREAM_FORCE_PATH_STYLE',
      flag: '--upstream-force-path-style',
      description:
        'Address upstream buckets path-style (`/<bucket>/<key>`); needed by most S3-compatible servers.',
    }),
  ),
  upstreamBuckets: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseBucketMap(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .default('*')
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_BUCKETS',
        flag: '--upstream-buckets',
        description:
          'Which local buckets are cached from which upstream buckets: `local=upstream` or `name` pairs, comma-separated; `*` = every bucket under its own name. Unlisted buckets stay local (durable store).',
        example: 'photos=prod-photos,logs',
      }),
    ),
  cacheTtlMs: durationMs.default(60_000).meta(
    meta({
      env: 'BLOBCACHE_CACHE_TTL',
      flag: '--cache-ttl',
      description:
        'How long a cached object is served without asking upstream (then revalidated with If-None-Match). `30s`, `5m`; 0 = always revalidate.',
    }),
  ),
  negativeTtlMs: durationMs.default(10_000).meta(
    meta({
      env: 'BLOBCACHE_NEGATIVE_TTL',
      flag: '--negative-ttl',
      description: 'How long an upstream 404 is remembered (0 = never).',
    }),
  ),
  listTtlMs: durationMs.default(0).meta(
    meta({
      env: 'BLOBCACHE_LIST_TTL',
      flag: '--list-ttl',
      description:
        "How long an upstream listing page is reused (0 = never). Writes through this gateway drop the bucket's pages at once; writes made directly upstream show after at most this long.",
    }),
  ),
  upstreamTimeoutMs: durationMs
    .refine((n) => n > 0, { message: 'must be positive' })
    .default(30_000)
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_TIMEOUT',
        flag: '--upstream-timeout',
        description:
          'Longest an upstream response (or a pause in its body) may take before the request counts as failed.',
      }),
    ),
  upstreamConnectTimeoutMs: durationMs
    .refine((n) => n > 0, { message: 'must be positive' })
    .default(3_000)
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_CONNECT_TIMEOUT',
        flag: '--upstream-connect-timeout',
        description: 'Longest a TCP/TLS connection to the upstream may take.',
      }),
    ),
  upstreamMaxAttempts: z.coerce
    .number()
    .int()
    .min(1)
    .max(10)
    .default(2)
    .meta(
      meta({
        env: 'BLOBCACHE_UPSTREAM_MAX_ATTEMPTS',
        flag: '--upstream-max-attempts',
        description: 'Attempts per upstream request (SDK retries on throttling, 5xx and network errors).',
      }),
    ),
};

/** The upstream settings, as `configSchema` outputs them. */
export type UpstreamConfig = {
  upstreamEndpoint?: string | undefined;
  upstreamRegion: string;
  upstreamAccessKeyId?: string | undefined;
  upstreamSecretAccessKey?: string | undefined;
  upstreamForcePathStyle: boolean;
  upstreamBuckets: string;
  cacheTtlMs: number;
  negativeTtlMs: number;
  listTtlMs: number;
  upstreamTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamMaxAttempts: number;
  maxBytes: number;
};
