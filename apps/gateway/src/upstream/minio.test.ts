// The read-through cache with MinIO (in a container) as the upstream: a second, independent S3
// implementation. Skips with a message when no Docker engine is reachable.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { dockerEngineReachable } from '@blobcache/testcontainers';
import { MinioContainer, type StartedMinioContainer } from '@testcontainers/minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client, startTestGateway, type TestGateway } from '../testing/harness.ts';
import { type CountingProxy, startCountingProxy } from './testing/upstream-harness.ts';

const MINIO_IMAGE = 'quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z';
const docker = await dockerEngineReachable();
const title = docker
  ? 'read-through cache with MinIO as the upstream'
  : 'read-through cache with MinIO as the upstream (skipped: no Docker engine is reachable on this machine)';

describe.skipIf(!docker)(title, { timeout: 60_000 }, () => {
  const BUCKET = 'minio-origin';
  let minio: StartedMinioContainer;
  let proxy: CountingProxy;
  let upstream: S3Client;
  let gw: TestGateway;
  let dataDir: string;

  beforeAll(async () => {
    minio = await new MinioContainer(MINIO_IMAGE)
      .withUsername('minio-key')
      .withPassword('minio-secret/+=')
      .start();
    proxy = await startCountingProxy(minio.getPort(), minio.getHost());
    upstream = new S3Client({
      endpoint: minio.getConnectionUrl(),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.getUsername(), secretAccessKey: minio.getPassword() },
    });
    await upstream.send(new CreateBucketCommand({ Bucket: BUCKET }));
    dataDir = await mkdtemp(join(tmpdir(), 'blobcache-minio-'));
    gw = await startTestGateway({
      dataDir,
      upstreamEndpoint: `http://127.0.0.1:${proxy.port}`,
      upstreamAccessKeyId: minio.getUsername(),
      upstreamSecretAccessKey: minio.getPassword(),
      upstreamForcePathStyle: true,
      upstreamBuckets: `${BUCKET}`,
      cacheTtlMs: 600_000,
    });
  }, 600_000);

  afterAll(async () => {
    upstream?.destroy();
    await gw?.stop();
    await proxy?.close();
    await minio?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('misses once, hits afterwards, coalesces, and writes through', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 1, 0x5a);
    const put = await upstream.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'm/obj', Body: body, Metadata: { k: 'v' } }),
    );
    const client = s3Client(gw);
    const urls = await Promise.all(
      Array.from({ length: 20 }, () =>
        getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'm/obj' })),
      ),
    );
    const results = await Promise.all(
      urls.map(async (u) => {
        const r = await fetch(u);
        return {
          etag: r.headers.get('etag'),
          meta: r.headers.get('x-amz-meta-k'),
          body: Buffer.from(await r.arrayBuffer()),
        };
      }),
    );
    for (const r of results) {
      expect(r.body.equals(body)).toBe(true);
      expect(r.etag).toBe(put.ETag);
      expect(r.meta).toBe('v');
    }
    expect(proxy.count('GET', `/${BUCKET}/m/obj`)).toBe(1);
    const hit = await fetch(
      await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'm/obj' })),
    );
    expect(hit.headers.get('x-cache')).toBe('HIT');
    await hit.arrayBuffer();
    expect(proxy.count('GET', `/${BUCKET}/m/obj`)).toBe(1);

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'm/written', Body: 'through the cache' }));
    const direct = await upstream.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'm/written' }));
    expect(await direct.Body?.transformToString()).toBe('through the cache');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'm/', MaxKeys: 1 }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['m/obj']);
    const next = await client.send(
      new ListObjectsV2Command({
        Bucket: BUCKET,
        Prefix: 'm/',
        ContinuationToken: listed.NextContinuationToken,
      }),
    );
    expect(next.Contents?.map((c) => c.Key)).toEqual(['m/written']);
    client.destroy();
  });
});
