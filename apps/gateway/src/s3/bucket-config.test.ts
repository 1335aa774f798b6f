// Bucket configuration reads through the SDK: "none set" where S3 says so, the fixed settings as
// S3 renders them, the gateway's CORS policy, deletes of nothing, and writes still 501 (bucket
// policies and tags are real: bucket-policy.test.ts, tagging.test.ts).
import {
  DeleteBucketLifecycleCommand,
  DeleteBucketPolicyCommand,
  DeleteBucketTaggingCommand,
  GetBucketAccelerateConfigurationCommand,
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLoggingCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketReplicationCommand,
  GetBucketRequestPaymentCommand,
  GetBucketTaggingCommand,
  GetBucketWebsiteCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  PutBucketAccelerateConfigurationCommand,
  PutBucketLoggingCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketRequestPaymentCommand,
  PutBucketWebsiteCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'configured';

describe('bucket configuration reads', () => {
  let gw: TestGateway;
  let s3: S3Client;

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({
      bucket: Bucket,
      config: { corsOrigins: 'http://localhost:5173' },
    }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('answers "none set" with the 404 S3 gives for each configuration', async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [s3.send(new GetBucketPolicyCommand({ Bucket })), 'NoSuchBucketPolicy'],
      [s3.send(new GetBucketPolicyStatusCommand({ Bucket })), 'NoSuchBucketPolicy'],
      [s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })), 'NoSuchLifecycleConfiguration'],
      [s3.send(new GetBucketTaggingCommand({ Bucket })), 'NoSuchTagSet'],
      [s3.send(new GetBucketWebsiteCommand({ Bucket })), 'NoSuchWebsiteConfiguration'],
      [s3.send(new GetObjectLockConfigurationCommand({ Bucket })), 'ObjectLockConfigurationNotFoundError'],
      [s3.send(new GetBucketReplicationCommand({ Bucket })), 'ReplicationConfigurationNotFoundError'],
      [s3.send(new GetPublicAccessBlockCommand({ Bucket })), 'NoSuchPublicAccessBlockConfiguration'],
      [s3.send(new GetBucketEncryptionCommand({ Bucket })), 'ServerSideEncryptionConfigurationNotFoundError'],
      [s3.send(new GetBucketPolicyCommand({ Bucket: 'no-such-bucket' })), 'NoSuchBucket'],
    ];
    for (const [call, code] of cases) {
      const err = await s3ErrorOf(call);
      expect(err.name).toBe(code);
      expect(err.$metadata.httpStatusCode).toBe(404);
    }
  });

  it('renders the fixed settings and the gateway-wide CORS policy', async () => {
    expect((await s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket }))).Status).toBeUndefined();
    expect((await s3.send(new GetBucketRequestPaymentCommand({ Bucket }))).Payer).toBe('BucketOwner');
    expect((await s3.send(new GetBucketLoggingCommand({ Bucket }))).LoggingEnabled).toBeUndefined();
    const notification = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    expect(notification.TopicConfigurations ?? []).toEqual([]);
    const ownership = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket }));
    expect(ownership.OwnershipControls?.Rules?.[0]?.ObjectOwnership).toBe('BucketOwnerEnforced');
    const cors = await s3.send(new GetBucketCorsCommand({ Bucket }));
    expect(cors.CORSRules).toHaveLength(1);
    expect(cors.CORSRules?.[0]?.AllowedOrigins).toEqual(['http://localhost:5173']);
    expect(cors.CORSRules?.[0]?.AllowedMethods).toEqual(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
    expect(cors.CORSRules?.[0]?.ExposeHeaders).toContain('etag');
  });

  it('deletes of a configuration that cannot exist succeed; setting one is still 501', async () => {
    await s3.send(new DeleteBucketPolicyCommand({ Bucket }));
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    await s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    const website = await s3ErrorOf(
      s3.send(
        new PutBucketWebsiteCommand({
          Bucket,
          WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } },
        }),
      ),
    );
    expect(website.name).toBe('NotImplemented');
    expect(website.$metadata.httpStatusCode).toBe(501);
  });

  it('accepts putting the value a fixed setting has; any other value is 501', async () => {
    await s3.send(
      new PutBucketAccelerateConfigurationCommand({
        Bucket,
        AccelerateConfiguration: { Status: 'Suspended' },
      }),
    );
    await s3.send(
      new PutBucketRequestPaymentCommand({ Bucket, RequestPaymentConfiguration: { Payer: 'BucketOwner' } }),
    );
    await s3.send(new PutBucketLoggingCommand({ Bucket, BucketLoggingStatus: {} }));
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: {} }));
    const refused = [
      () =>
        s3.send(
          new PutBucketAccelerateConfigurationCommand({
            Bucket,
            AccelerateConfiguration: { Status: 'Enabled' },
          }),
        ),
      () =>
        s3.send(
          new PutBucketRequestPaymentCommand({ Bucket, RequestPaymentConfiguration: { Payer: 'Requester' } }),
        ),
      () =>
        s3.send(
          new PutBucketLoggingCommand({
            Bucket,
            BucketLoggingStatus: { LoggingEnabled: { TargetBucket: Bucket, TargetPrefix: 'logs/' } },
          }),
        ),
      () =>
        s3.send(
          new PutBucketNotificationConfigurationCommand({
            Bucket,
            NotificationConfiguration: {
              QueueConfigurations: [
                { QueueArn: 'arn:aws:sqs:us-east-1:111122223333:q', Events: ['s3:ObjectCreated:*'] },
              ],
            },
          }),
        ),
    ];
    for (const call of refused) {
      const err = await s3ErrorOf(call());
      expect(err.name).toBe('NotImplemented');
      expect(err.$metadata.httpStatusCode).toBe(501);
    }
    expect((await s3.send(new GetBucketRequestPaymentCommand({ Bucket }))).Payer).toBe('BucketOwner');
  });
});
