import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GenericContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobcacheContainer, type StartedBlobcacheContainer } from './blobcache-container.ts';
import { dockerEngineReachable } from './docker.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const docker = await dockerEngineReachable();
const title = docker
  ? 'BlobcacheContainer against a Docker engine'
  : 'BlobcacheContainer (skipped: no Docker engine is reachable on this machine)';

describe.skipIf(!docker)(title, () => {
  let container: StartedBlobcacheContainer;

  beforeAll(async () => {
    const image = await GenericContainer.fromDockerfile(repoRoot, 'infra/Dockerfile').build(
      'blobcache:local',
      {
        deleteOnExit: false,
      },
    );
    void image;
    container = await new BlobcacheContainer('blobcache:local')
      .withCredentials('tc-key', 'tc/secret+=')
      .start();
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
  });
});
