// docker-compose.yml without a Docker engine: what each profile starts, and that the file agrees
// with the things it wires together — the gateway's own configuration schema (every BLOBCACHE_*
// value is one the gateway accepts, with the file's defaults), infra/Dockerfile, and
// infra/nginx/scale.conf (the gateways nginx routes to are exactly the scale profile's gateways).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, loadConfig } from '@blobcache/gateway';
import { describe, expect, it } from 'vitest';
// `yaml` comes with testcontainers (through its docker-compose dependency).
import { parse } from 'yaml';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  profiles?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  command?: string[] | string;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
};
type Compose = { services: Record<string, Service>; volumes: Record<string, unknown> };

const compose = parse(await readFile(join(repoRoot, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as Compose;
const scaleConf = await readFile(join(repoRoot, 'infra/nginx/scale.conf'), 'utf8');
const services = compose.services;

/** The services `docker compose [--profile p] up` starts. */
function started(profile?: string): string[] {
  return Object.entries(services)
    .filter(([, s]) => !s.profiles || (profile !== undefined && s.profiles.includes(profile)))
    .map(([name]) => name)
    .sort();
}

/** `${NAME:-default}` as compose interpolates it with NAME unset. */
function withDefaults(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

function envOf(name: string): Record<string, string> {
  const env = services[name]?.environment ?? {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, withDefaults(String(v))]));
}

const gatewayServices = Object.entries(services)
  .filter(([, s]) => s.image === 'blobcache:local')
  .map(([name]) => name);
const configEnvNames = new Set(
  Object.values(configSchema.shape).map((f) => (f.meta() as { env: string } | undefined)?.env),
);

describe('docker-compose.yml', () => {
  it('starts the store alone by default, and each profile adds its own front door', () => {
    expect(started()).toEqual(['blobcache']);
    expect(started('minio')).toEqual(['blobcache', 'cache', 'minio', 'minio-bucket']);
    expect(started('scale')).toEqual([
      'blobcache',
      'gateway-1',
      'gateway-2',
      'gateway-3',
      'minio',
      'minio-bucket',
      'nginx',
    ]);
    // Profiles run beside the default store, so their published ports must differ.
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    const hostPorts = published.map((p) => p.split(':').slice(0, 2).join(':'));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const p of published) expect(p, 'published on loopback only').toMatch(/^127\.0\.0\.1:\d+:9000$/);
    expect(services.blobcache?.ports).toEqual(['127.0.0.1:9000:9000']);
    expect(services.cache?.ports).toEqual(['127.0.0.1:9100:9000']);
    expect(services.nginx?.ports).toEqual(['127.0.0.1:9200:9000']);
  });

  it('runs every gateway from infra/Dockerfile, each on a volume of its own, with time to stop', () => {
    expect(gatewayServices.sort()).toEqual(['blobcache', 'cache', 'gateway-1', 'gateway-2', 'gateway-3']);
    const volumes = new Set<string>();
    for (const name of gatewayServices) {
      const s = services[name] as Service;
      expect(s.build).toEqual({ context: '.', dockerfile: 'infra/Dockerfile' });
      const data = (s.volumes ?? []).filter((v) => v.endsWith(':/data'));
      expect(data, name).toHaveLength(1);
      const volume = (data[0] as string).split(':')[0] as string;
      expect(compose.volumes, `${name}'s volume is declared`).toHaveProperty(volume);
      volumes.add(volume);
      // Longer than the gateway's 10 s in-flight grace, so closing the engine is never cut.
      expect(Number.parseInt(s.stop_grace_period ?? '10s', 10)).toBeGreaterThan(10);
    }
    expect(volumes.size).toBe(gatewayServices.length);
  });

  it('configures gateways only with variables the gateway reads, and values it accepts', () => {
    for (const name of gatewayServices) {
      const env = envOf(name);
      for (const key of Object.keys(env)) expect(configEnvNames, `${name}: ${key}`).toContain(key);
      // The container's own ENV (infra/Dockerfile) binds 0.0.0.0:9000 on /data.
      const config = loadConfig([], {
        BLOBCACHE_HOST: '0.0.0.0',
        BLOBCACHE_PORT: '9000',
        BLOBCACHE_DATA_DIR: '/data',
        ...env,
      });
      expect(config.credentials.length, `${name} sets credentials (it binds 0.0.0.0)`).toBeGreaterThan(0);
    }
    expect(loadConfig([], envOf('blobcache')).upstreamEndpoint).toBeUndefined();
  });

  it('puts the caches in read-through mode in front of the MinIO service, after its bucket exists', () => {
    const minio = services.minio as Service;
    // Pinned to a release: MinIO publishes no new images, and a floating tag could vanish or move.
    expect(minio.image).toMatch(/^quay\.io\/minio\/minio:RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z$/);
    expect(services['minio-bucket']?.image).toMatch(/^quay\.io\/minio\/mc:RELEASE\./);
    expect(String(services['minio-bucket']?.command)).toMatch(/mc mb --ignore-existing/);
    const minioEnv = envOf('minio');
    for (const name of ['cache', 'gateway-1', 'gateway-2', 'gateway-3']) {
      const config = loadConfig([], envOf(name));
      expect(config.upstreamEndpoint, name).toBe('http://minio:9000');
      expect(config.upstreamAccessKeyId).toBe(minioEnv.MINIO_ROOT_USER);
      expect(config.upstreamSecretAccessKey).toBe(minioEnv.MINIO_ROOT_PASSWORD);
      expect(config.upstreamForcePathStyle).toBe(true);
      // Behind nginx every bucket must be read through (a local one would be split by key).
      expect(config.upstreamBuckets).toBe('*');
      expect(config.maxBytes).toBeGreaterThan(0);
      expect(services[name]?.depends_on?.['minio-bucket']?.condition).toBe('service_completed_successfully');
    }
    expect(services['minio-bucket']?.depends_on?.minio?.condition).toBe('service_healthy');
  });

  it('routes nginx (infra/nginx/scale.conf) to exactly the scale profile gateways', () => {
    const nginx = services.nginx as Service;
    expect(nginx.volumes).toContain('./infra/nginx/scale.conf:/etc/nginx/nginx.conf:ro');
    const servers = [...scaleConf.matchAll(/^\s*server\s+([\w.-]+):(\d+)\b/gm)].map((m) => ({
      host: m[1],
      port: m[2],
    }));
    const scaleGateways = started('scale').filter((n) => gatewayServices.includes(n) && n !== 'blobcache');
    expect(servers.map((s) => s.host).sort()).toEqual(scaleGateways);
    for (const s of servers) expect(s.port).toBe('9000');
    expect(Object.keys(nginx.depends_on ?? {}).sort()).toEqual(scaleGateways);
    for (const g of scaleGateways) expect(nginx.depends_on?.[g]?.condition).toBe('service_healthy');
    expect(scaleConf).toMatch(/^\s*listen 9000;/m);
    expect(scaleConf).toMatch(/^\s*hash \$uri consistent;/m);
  });
});
