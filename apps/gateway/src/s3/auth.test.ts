// Authentication edges through real clients: SigV2 presigned URLs (aws-cli's default), botocore
// SigV4 header signing (aws-cli), clock skew. SigV2 header signing is covered by s3-protocol's
// own tests against botocore's signer.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HeadBucketCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  s3Client,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const run = promisify(execFile);

describe('authentication', () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: 'auth' }));
    await s3.send(new PutObjectCommand({ Bucket: 'auth', Key: 'hello world+1.txt', Body: 'signed v2' }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  const awsEnv = () => ({
    ...process.env,
    AWS_ACCESS_KEY_ID: 'blobcache',
    AWS_SECRET_ACCESS_KEY: 'blobcache-secret',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  });

  it('accepts SigV2 presigned URLs (aws s3 presign default) and rejects tampered ones', async () => {
    const { stdout } = await run(
      'aws',
      ['--endpoint-url', gw.url, 's3', 'presign', 's3://auth/hello world+1.txt'],
      {
        env: awsEnv(),
      },
    );
    const url = stdout.trim();
    expect(url).toContain('AWSAccessKeyId=');
    const res = await fetch(url);
    expect(await res.text()).toBe('signed v2');
    const tampered = await fetch(url.replace('Signature=', 'Signature=x'));
    expect(tampered.status).toBe(403);
  });

  it('accepts aws-cli (botocore SigV4 header signing) for s3api calls', async () => {
    const { stdout } = await run(
      'aws',
      ['--endpoint-url', gw.url, 's3api', 'head-object', '--bucket', 'auth', '--key', 'hello world+1.txt'],
      {
        env: awsEnv(),
      },
    );
    expect(JSON.parse(stdout).ContentLength).toBe(9);
  });

  it('refuses a request signed with a clock skewed by more than 15 minutes', async () => {
    const skewed = s3Client(gw, { systemClockOffset: -20 * 60 * 1000, maxAttempts: 1 });
    try {
      await skewed.send(new HeadBucketCommand({ Bucket: 'auth' }));
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toBeInstanceOf(S3ServiceException);
      expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(403);
    } finally {
      skewed.destroy();
    }
  });
});
