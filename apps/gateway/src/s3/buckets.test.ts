import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketAnalyticsConfigurationCommand,
  GetBucketInventoryConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketVersioningCommand,
  PutBucketWebsiteCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rawRequest,
  s3Client,
  s3ErrorOf,
  startGatewayWithClient,
  startTestGateway,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

describe('bucket operations', () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient());
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('creates, lists, heads and deletes buckets', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'beta' }));
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toEqual(['alpha', 'beta']);
    expect(list.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);
    expect(list.Owner?.DisplayName).toBe('blobcache');
    const head = await s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));
    expect(head.BucketRegion).toBe('us-east-1');
    await s3.send(new DeleteBucketCommand({ Bucket: 'beta' }));
    expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['alpha']);
  });

  it('refuses (501) a bucket with Object Lock instead of creating one without it', async () => {
    const err = await s3ErrorOf(
      s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true })),
    );
    expect(err.$metadata.httpStatusCode).toBe(501);
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).not.toContain('locked');
  });

  it('rejects invalid names and existing buckets', async () => {
    const bad = await s3ErrorOf(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })));
    expect(bad.name).toBe('InvalidBucketName');
    await s3.send(new CreateBucketCommand({ Bucket: 'twice' }));
    const again = await s3ErrorOf(s3.send(new CreateBucketCommand({ Bucket: 'twice' })));
    expect(again.name).toBe('BucketAlreadyOwnedByYou');
    expect(again.$metadata.httpStatusCode).toBe(409);
  });

  it('accepts a LocationConstraint body naming its region and refuses another', async () => {
    const eu = await startTestGateway({ region: 'eu-west-1' });
    const client = s3Client(eu, { region: 'eu-west-1' });
    try {
      await client.send(
        new CreateBucketCommand({
          Bucket: 'euro',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      );
      const loc = await client.send(new GetBucketLocationCommand({ Bucket: 'euro' }));
      expect(loc.LocationConstraint).toBe('eu-west-1');
      const head = await client.send(new HeadBucketCommand({ Bucket: 'euro' }));
      expect(head.BucketRegion).toBe('eu-west-1');
      const wrong = await s3ErrorOf(
        client.send(
          new CreateBucketCommand({
            Bucket: 'other',
            CreateBucketConfiguration: { LocationConstraint: 'ap-south-1' },
          }),
        ),
      );
      expect(wrong.name).toBe('IllegalLocationConstraintException');
    } finally {
      client.destroy();
      await eu.stop();
    }
  });

  it('GetBucketLocation reports us-east-1 as empty; versioning is never enabled, only suspended', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'loc' }));
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'loc' }));
    expect(loc.LocationConstraint ?? '').toBe('');
    const v = await s3.send(new GetBucketVersioningCommand({ Bucket: 'loc' }));
    expect(v.Status).toBeUndefined();
    // Suspended can be set (every object keeps exactly the null version); Enabled cannot.
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'loc', VersioningConfiguration: { Status: 'Suspended' } }),
    );
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'loc' }))).Status).toBe('Suspended');
    const enabled = await s3ErrorOf(
      s3.send(
        new PutBucketVersioningCommand({ Bucket: 'loc', VersioningConfiguration: { Status: 'Enabled' } }),
      ),
    );
    expect(enabled.name).toBe('NotImplemented');
    expect(enabled.$metadata.httpStatusCode).toBe(501);
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'loc' }))).Status).toBe('Suspended');
  });

  it('HeadBucket on a missing bucket is a bodiless 404; DeleteBucket NoSuchBucket', async () => {
    const head = await s3ErrorOf(s3.send(new HeadBucketCommand({ Bucket: 'missing' })));
    expect(head.$metadata.httpStatusCode).toBe(404);
    expect(head.name).toBe('NotFound');
    const del = await s3ErrorOf(s3.send(new DeleteBucketCommand({ Bucket: 'missing' })));
    expect(del.name).toBe('NoSuchBucket');
  });

  it('refuses to delete a non-empty bucket', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'full' }));
    await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'x', Body: 'x' }));
    const err = await s3ErrorOf(s3.send(new DeleteBucketCommand({ Bucket: 'full' })));
    expect(err.name).toBe('BucketNotEmpty');
    expect(err.$metadata.httpStatusCode).toBe(409);
  });

  it('answers unimplemented subresources with 501 NotImplemented in S3 XML', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'sub' }));
    const calls = [
      () =>
        s3.send(
          new PutBucketWebsiteCommand({
            Bucket: 'sub',
            WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } },
          }),
        ),
      () => s3.send(new GetBucketAnalyticsConfigurationCommand({ Bucket: 'sub', Id: 'a' })),
      () => s3.send(new GetBucketInventoryConfigurationCommand({ Bucket: 'sub', Id: 'i' })),
    ];
    for (const call of calls) {
      const err = await s3ErrorOf(call());
      expect(err.$metadata.httpStatusCode).toBe(501);
      expect(err.name).toBe('NotImplemented');
    }
  });

  it('serves virtual-hosted-style requests (Host: <bucket>.localhost:<port>)', async () => {
    const vhost = s3Client(gw, { forcePathStyle: false, endpoint: `http://localhost:${gw.port}` });
    await s3.send(new CreateBucketCommand({ Bucket: 'vhost' }));
    // Resolve *.localhost to loopback ourselves: the SDK only needs the Host header right.
    vhost.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { hostname?: string; headers: Record<string, string> };
        if (req.hostname?.endsWith('.localhost')) {
          req.headers.host = `${req.hostname}:${gw.port}`;
          req.hostname = '127.0.0.1';
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'resolveLocalhostSubdomains', priority: 'low' },
    );
    const head = await vhost.send(new HeadBucketCommand({ Bucket: 'vhost' }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    vhost.destroy();
    const raw = await rawRequest(gw.port, {
      method: 'GET',
      path: '/',
      headers: { host: `vhost.localhost:${gw.port}` },
    });
    expect(raw.status).toBe(403); // unsigned, but routed to the bucket
    expect(raw.body.toString()).toContain('AccessDenied');
  });
});
