import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { loadConfig } from '@blobcache/gateway';
import { MinioContainer, type StartedMinioContainer } from '@testcontainers/minio';
import { Network, type StartedNetwork } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobcacheContainer,
  BlobcacheContainerError,
  buildBlobcacheImage,
  MIN_MAX_BYTES,
  type StartedBlobcacheContainer,
} from './blobcache-container.ts';
import { dockerEngineReachable } from './docker.ts';

/** What the gateway inside the container makes of the environment it is handed. */
function gatewayConfigOf(container: BlobcacheContainer) {
  return loadConfig([], container.getGatewayEnvironment());
}

describe('BlobcacheContainer settings (no Docker engine needed)', () => {
  it('hands the gateway a bind on 0.0.0.0:9000 with explicit credentials by default', () => {
    const c = new BlobcacheContainer();
    const config = gatewayConfigOf(c);
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(9000);
    expect(config.credentials).toHaveLength(1);
    expect(config.credentials[0]?.accessKeyId).toBe('blobcache');
    // A random secret per container, never the public development pair.
    expect(config.credentials[0]?.secretAccessKey).not.toBe('blobcache-secret');
    expect(gatewayConfigOf(new BlobcacheContainer()).credentials[0]?.secretAccessKey).not.toBe(
      config.credentials[0]?.secretAccessKey,
    );
    expect(config.upstreamEndpoint).toBeUndefined();
    expect(config.maxBytes).toBe(0);
  });

  it('passes credentials whose secret holds / + = and : through intact', () => {
    const config = gatewayConfigOf(new BlobcacheContainer().withCredentials('tc-key', 'a/b+c=d:e'));
    expect(config.credentials).toEqual([{ accessKeyId: 'tc-key', secretAccessKey: 'a/b+c=d:e' }]);
    expect(() => new BlobcacheContainer().withCredentials('a:b', 'x')).toThrow(BlobcacheContainerError);
    expect(() => new BlobcacheContainer().withCredentials('a', 'x,y')).toThrow(BlobcacheContainerError);
    expect(() => new BlobcacheContainer().withCredentials('', 'x')).toThrow(BlobcacheContainerError);
  });

  it('withMaxBytes takes a byte count or a size with a unit, as the gateway parses them', () => {
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes('20GiB')).maxBytes).toBe(20 * 2 ** 30);
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes('512MB')).maxBytes).toBe(512e6);
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes('1.5 gib')).maxBytes).toBe(1.5 * 2 ** 30);
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes('67108864')).maxBytes).toBe(MIN_MAX_BYTES);
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes(MIN_MAX_BYTES)).maxBytes).toBe(
      MIN_MAX_BYTES,
    );
    expect(gatewayConfigOf(new BlobcacheContainer().withMaxBytes(0)).maxBytes).toBe(0);
    for (const bad of [-1, 1.5, 1000, MIN_MAX_BYTES - 1]) {
      expect(() => new BlobcacheContainer().withMaxBytes(bad), String(bad)).toThrow(BlobcacheContainerError);
    }
    for (const bad of ['lots', '', '-5GiB', '1e9', '5XB', '1KB', '63MiB']) {
      expect(() => new BlobcacheContainer().withMaxBytes(bad), bad).toThrow(BlobcacheContainerError);
    }
  });

  it('withUpstream puts the gateway in read-through mode, path-style, every bucket by default', () => {
    const c = new BlobcacheContainer().withUpstream('http://minio:9000', 'minio-user', 'minio/secret+=');
    const config = gatewayConfigOf(c);
    expect(config.upstreamEndpoint).toBe('http://minio:9000');
    expect(config.upstreamAccessKeyId).toBe('minio-user');
    expect(config.upstreamSecretAccessKey).toBe('minio/secret+=');
    expect(config.upstreamForcePathStyle).toBe(true);
    expect(config.upstreamBuckets).toBe('*');
    expect(config.upstreamRegion).toBe('us-east-1');

    const mapped = new BlobcacheContainer()
      .withUpstream('https://s3.eu-west-1.amazonaws.com', 'AKIA', 'secret', {
        region: 'eu-west-1',
        forcePathStyle: false,
      })
      .withUpstreamBuckets('photos=prod-photos,logs')
      .withCacheTtl('5m');
    const m = gatewayConfigOf(mapped);
    expect(m.upstreamRegion).toBe('eu-west-1');
    expect(m.upstreamForcePathStyle).toBe(false);
    expect(m.upstreamBuckets).toBe('photos=prod-photos,logs');
    expect(m.cacheTtlMs).toBe(300_000);

    expect(() => new BlobcacheContainer().withUpstream('minio:9000', 'a', 'b')).toThrow(
      BlobcacheContainerError,
    );
    expect(() => new BlobcacheContainer().withUpstream('ftp://minio', 'a', 'b')).toThrow(
      BlobcacheContainerError,
    );
    expect(() => new BlobcacheContainer().withUpstream('http://minio', '', 'b')).toThrow(
      BlobcacheContainerError,
    );
    expect(() => new BlobcacheContainer().withCacheTtl('soon')).toThrow(BlobcacheContainerError);
  });

  it('sets log level and region; raw withEnvironment() values win over the methods', () => {
    const c = new BlobcacheContainer()
      .withLogLevel('debug')
      .withRegion('eu-central-1')
      .withEnvironment({ BLOBCACHE_LIST_TTL: '30s', BLOBCACHE_REGION: 'ap-south-1' });
    const config = gatewayConfigOf(c);
    expect(config.logLevel).toBe('debug');
    expect(config.listTtlMs).toBe(30_000);
    expect(config.region).toBe('ap-south-1');
    expect(() => new BlobcacheContainer().withLogLevel('loud' as 'info')).toThrow(BlobcacheContainerError);
    expect(() => new BlobcacheContainer().withRegion(' ')).toThrow(BlobcacheContainerError);
  });
});

const docker = await dockerEngineReachable();
const title = (what: string) =>
  docker
    ? `${what} against a Docker engine`
    : `${what} (skipped: no Docker engine is reachable on this machine)`;

// Built once for both suites below; a build from infra/Dockerfile takes minutes on a cold cache.
let imageBuilt: Promise<string> | undefined;
const image = () => {
  imageBuilt ??= buildBlobcacheImage();
  return imageBuilt;
};

describe.skipIf(!docker)(title('BlobcacheContainer image from infra/Dockerfile'), () => {
  let container: StartedBlobcacheContainer;

  beforeAll(async () => {
    container = await new BlobcacheContainer(await image()).withCredentials('tc-key', 'tc/secret+=').start();
  }, 600_000);

  afterAll(async () => {
    await container?.stop();
  });

  it('serves S3 to the SDK with the settings it hands out', async () => {
    const s3 = new S3Client(container.getS3ClientConfig());
    await s3.send(new CreateBucketCommand({ Bucket: 'tc-bucket' }));
    await s3.send(new PutObjectCommand({ Bucket: 'tc-bucket', Key: 'hello.txt', Body: 'hello container' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'tc-bucket', Key: 'hello.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello container');
    expect(container.getConnectionUrl()).toBe(container.getEndpoint());
    s3.destroy();
  });
});

describe.skipIf(!docker)(title('BlobcacheContainer in front of a MinIO container'), () => {
  // The last MinIO community release still served (quay.io); see docker-compose.yml.
  const MINIO_IMAGE = 'quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z';
  let network: StartedNetwork;
  let minio: StartedMinioContainer;
  let cache: StartedBlobcacheContainer;

  beforeAll(async () => {
    network = await new Network().start();
    minio = await new MinioContainer(MINIO_IMAGE)
      .withNetwork(network)
      .withNetworkAliases('minio')
      .withUsername('minio-user')
      .withPassword('minio-password')
      .start();
    cache = await new BlobcacheContainer(await image())
      .withNetwork(network)
      .withUpstream('http://minio:9000', 'minio-user', 'minio-password')
      .withMaxBytes('256MiB')
      .start();
  }, 600_000);

  afterAll(async () => {
    await cache?.stop();
    await minio?.stop();
    await network?.stop();
  });

  it('reads objects that exist only in MinIO, and writes through to it', async () => {
    const direct: S3ClientConfig = {
      endpoint: minio.getConnectionUrl(),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.getUsername(), secretAccessKey: minio.getPassword() },
    };
    const upstream = new S3Client(direct);
    const s3 = new S3Client(cache.getS3ClientConfig());
    await upstream.send(new CreateBucketCommand({ Bucket: 'shared' }));
    await upstream.send(new PutObjectCommand({ Bucket: 'shared', Key: 'seeded.txt', Body: 'from minio' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'seeded.txt' }));
    expect(await got.Body?.transformToString()).toBe('from minio');
    await s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'through.txt', Body: 'via the cache' }));
    const there = await upstream.send(new GetObjectCommand({ Bucket: 'shared', Key: 'through.txt' }));
    expect(await there.Body?.transformToString()).toBe('via the cache');
    s3.destroy();
    upstream.destroy();
  });
});
