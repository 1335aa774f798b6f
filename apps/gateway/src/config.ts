// The gateway's configuration: ONE zod schema is the source of truth for environment variables,
// CLI flags, defaults, `--help` and the README table. Invariant: every field carries its env name,
// flag name and description in its `.meta()`, so nothing about a setting is written twice.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCorsOrigins } from './cors.ts';
import { durationMs, upstreamConfigFields } from './upstream/config-fields.ts';

/** A configured access key pair. Secrets may contain `/`, `+`, `=`, and `:`. */
export type Credential = { accessKeyId: string; secretAccessKey: string };

/** The documented development pair, accepted only while bound to loopback with no credentials set. */
export const DEV_CREDENTIAL: Credential = { accessKeyId: 'blobcache', secretAccessKey: 'blobcache-secret' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type FieldMeta = { env: string; flag: string; description: string; example?: string };

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

/** Parses `20GiB`, `512MB`, `1048576` into bytes; throws on anything else. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new ConfigError(`not a byte size: "${text}" (use e.g. 20GiB, 512MB, 1048576; 0 = unbounded)`);
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(`byte size too large: "${text}"`);
  return bytes;
}

/** Parses `id:secret,id2:secret2`, splitting each pair on its FIRST colon only. */
export function parseCredentials(text: string): Credential[] {
  const out: Credential[] = [];
  for (const raw of text.split(',')) {
    const pair = raw.trim();
    if (pair === '') continue;
    const colon = pair.indexOf(':');
    if (colon <= 0 || colon === pair.length - 1) {
      throw new ConfigError('BLOBCACHE_CREDENTIALS must be comma-separated "accessKeyId:secret" pairs');
    }
    out.push({ accessKeyId: pair.slice(0, colon), secretAccessKey: pair.slice(colon + 1) });
  }
  return out;
}

const byteSize = z.union([
  z.number().int().nonnegative(),
  z.string().transform((s, ctx) => {
    try {
      return parseByteSize(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
]);

const credentials = z.union([
  z.array(z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) })),
  z.string().transform((s, ctx) => {
    try {
      return parseCredentials(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
]);

const meta = (m: FieldMeta) => m;

/** The engine needs room for two memtables (2 × 32 MiB) before it can enforce a budget. */
export const MIN_MAX_BYTES = 64 * 2 ** 20;

export const configSchema = z.object({
  host: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .meta(
      meta({
        env: 'BLOBCACHE_HOST',
        flag: '--host',
        description: 'Address to bind. Non-loopback addresses require BLOBCACHE_CREDENTIALS.',
      }),
    ),
  port: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(9000)
    .meta(
      meta({
        env: 'BLOBCACHE_PORT',
        flag: '--port',
        description: 'TCP port; 0 picks a free port and logs it.',
      }),
    ),
  dataDir: z
    .string()
    .min(1)
    .default('./data')
    .meta(
      meta({
        env: 'BLOBCACHE_DATA_DIR',
        flag: '--data-dir',
        description: 'Directory holding the durable blob engine (created if missing).',
      }),
    ),
  credentials: credentials.default([]).meta(
    meta({
      env: 'BLOBCACHE_CREDENTIALS',
      flag: '--credentials',
      description:
        'Comma-separated `accessKeyId:secret` pairs (split on the first colon). Empty: the development pair `blobcache` / `blobcache-secret`, loopback only.',
      example: 'AKIAEXAMPLE:wJalr/K7+MDENG=,other:s3cr3t',
    }),
  ),
  region: z
    .string()
    .min(1)
    .default('us-east-1')
    .meta(
      meta({
        env: 'BLOBCACHE_REGION',
        flag: '--region',
        description: 'Region the gateway signs for and reports for its buckets.',
      }),
    ),
  domain: z
    .string()
    .min(1)
    .default('localhost')
    .meta(
      meta({
        env: 'BLOBCACHE_DOMAIN',
        flag: '--domain',
        description: 'Base domain for virtual-hosted-style requests (`<bucket>.<domain>:<port>`).',
      }),
    ),
  corsOrigins: z
    .union([z.string(), z.array(z.string()).readonly()])
    .default('*')
    .transform((s, ctx) => {
      try {
        // A parsed list (a config object passed on) goes through the same checks.
        return parseCorsOrigins(typeof s === 'string' ? s : s.length === 0 ? 'none' : s.join(','));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .meta(
      meta({
        env: 'BLOBCACHE_CORS_ORIGINS',
        flag: '--cors-origins',
        description:
          'Origins whose pages may call the S3 API (CORS, for presigned URLs and the JS SDK in a browser): `*` = any (as MinIO), a comma-separated list of `scheme://host[:port]`, or `none`. Preflights need no signature; every other request is still authenticated.',
        example: 'http://localhost:5173,https://app.example.com',
      }),
    ),
  maxBytes: byteSize
    .refine((n) => n === 0 || n >= MIN_MAX_BYTES, { message: 'must be 0 (unbounded) or at least 64MiB' })
    .default(0)
    .meta(
      meta({
        env: 'BLOBCACHE_MAX_BYTES',
        flag: '--max-bytes',
        description:
          'Disk budget (e.g. `20GiB`); writes past it fail with 507 XMinioStorageFull (nothing is evicted). 0 = unbounded. With an upstream it is also the budget of the read-through cache, which evicts (SIEVE) instead.',
      }),
    ),
  logLevel: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info')
    .meta(meta({ env: 'BLOBCACHE_LOG_LEVEL', flag: '--log-level', description: 'pino log level.' })),
  shutdownGraceMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(10_000)
    .meta(
      meta({
        env: 'BLOBCACHE_SHUTDOWN_GRACE_MS',
        flag: '--shutdown-grace-ms',
        description:
          'On SIGTERM/SIGINT: stop accepting, let in-flight requests finish for up to this many milliseconds, then cut them; the store is then flushed and closed (exit 0). A second signal cuts in-flight requests at once and still closes the store cleanly.',
      }),
    ),
  lifecycleIntervalMs: durationMs
    .refine((ms) => ms >= 1000 && ms <= 86_400_000, { message: 'must be between 1s and 24h' })
    .default(600_000)
    .meta(
      meta({
        env: 'BLOBCACHE_LIFECYCLE_INTERVAL',
        flag: '--lifecycle-interval',
        description:
          'How often bucket lifecycle rules (expiration, aborting incomplete multipart uploads) are carried out, as S3 does once a day; also right after start and after a rule is put. `30s`, `10m`, `1h`.',
      }),
    ),
  // Read-through cache ("upstream mode"); absent endpoint = store mode.
  ...upstreamConfigFields,
});

export type GatewayConfig = z.output<typeof configSchema>;
export type GatewayConfigInput = z.input<typeof configSchema>;
type ConfigKey = keyof GatewayConfig;

function fieldMeta(key: ConfigKey): FieldMeta {
  const m = configSchema.shape[key].meta() as FieldMeta | undefined;
  if (!m) throw new Error(`config field ${key} lacks meta`);
  return m;
}

const configKeys = Object.keys(configSchema.shape) as ConfigKey[];

function defaultText(key: ConfigKey): string {
  const value = configSchema.parse({})[key];
  if (Array.isArray(value)) return '(development pair)';
  if (value === undefined) return '(unset)';
  return String(value);
}

/** Validates a config object (defaults applied) or throws ConfigError with every problem listed. */
export function parseConfig(input: GatewayConfigInput): GatewayConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path[0] as ConfigKey | undefined;
      const name =
        key && key in configSchema.shape ? `${fieldMeta(key).env} / ${fieldMeta(key).flag}` : 'config';
      return `  ${name}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/**
 * Merges defaults < environment < flags and validates. Unknown flags are an error (a typo must not
 * silently fall back to a default).
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const raw: Record<string, unknown> = {};
  for (const key of configKeys) {
    const value = env[fieldMeta(key).env];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const byFlag = new Map(configKeys.map((k) => [fieldMeta(k).flag, k]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(flag);
    if (!key) throw new ConfigError(`unknown option: ${flag} (see --help)`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(`option ${flag} needs a value`);
    raw[key] = value;
  }
  return parseConfig(raw as GatewayConfigInput);
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The credentials the gateway accepts. Invariant: the well-known development pair is never
 * accepted on a non-loopback bind; refusing to start beats serving an open bucket store.
 */
export function effectiveCredentials(config: GatewayConfig): Credential[] {
  if (config.credentials.length > 0) return config.credentials;
  if (!isLoopbackHost(config.host)) {
    throw new ConfigError(
      `refusing to bind ${config.host} without credentials: the development pair ` +
        `(${DEV_CREDENTIAL.accessKeyId}/${DEV_CREDENTIAL.secretAccessKey}) is accepted only on loopback. ` +
        'Set BLOBCACHE_CREDENTIALS="accessKeyId:secret" (or --credentials) or bind 127.0.0.1.',
    );
  }
  return [DEV_CREDENTIAL];
}

/** `--help` text, rendered from the schema. */
export function renderHelp(): string {
  const rows = configKeys.map((k) => {
    const m = fieldMeta(k);
    return `  ${`${m.flag} <value>`.padEnd(26)}${m.description}\n  ${''.padEnd(26)}env ${m.env}, default ${defaultText(k)}`;
  });
  return [
    'Usage: blobcache serve [options]',
    '',
    'Serve an S3-compatible API backed by a durable local blob engine.',
    'Options (each also settable through its environment variable; flags win):',
    ...rows,
    '  --help                    Show this help.',
    '',
  ].join('\n');
}

/** The README's configuration table (Markdown), rendered from the schema. */
export function renderConfigTable(): string {
  const head = '| Environment variable | Flag | Default | Description |\n|---|---|---|---|';
  const rows = configKeys.map((k) => {
    const m = fieldMeta(k);
    return `| \`${m.env}\` | \`${m.flag}\` | \`${defaultText(k)}\` | ${m.description} |`;
  });
  return [head, ...rows].join('\n');
}
