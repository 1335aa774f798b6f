// Block Public Access and Object Ownership through the SDK, with the policy effects checked over
// unsigned HTTP: what Terraform's aws_s3_bucket_public_access_block / _ownership_controls do.
import {
  DeletePublicAccessBlockCommand,
  GetPublicAccessBlockCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, s3ErrorOf, useGatewayWithClient } from '../testing/harness.ts';

const Bucket = 'guarded';
const PUBLIC_READ = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${Bucket}/*` },
  ],
});
const ALL_BLOCKED = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

describe('Block Public Access and Object Ownership', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });
  const anonymousGet = () => rawRequest(suite.gw.port, { method: 'GET', path: `/${Bucket}/doc.txt` });
  const setBlock = (settings: Partial<typeof ALL_BLOCKED>) =>
    suite.s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: settings }));

  beforeAll(async () => {
    await suite.s3.send(new PutObjectCommand({ Bucket, Key: 'doc.txt', Body: 'doc' }));
  });

  it('stores the settings (absent ones false) and deletes them', async () => {
    expect((await s3ErrorOf(suite.s3.send(new GetPublicAccessBlockCommand({ Bucket })))).name).toBe(
      'NoSuchPublicAccessBlockConfiguration',
    );
    await setBlock({ BlockPublicPolicy: true });
    const got = await suite.s3.send(new GetPublicAccessBlockCommand({ Bucket }));
    expect(got.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: false,
      IgnorePublicAcls: false,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: false,
    });
    await suite.s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
    expect((await s3ErrorOf(suite.s3.send(new GetPublicAccessBlockCommand({ Bucket })))).name).toBe(
      'NoSuchPublicAccessBlockConfiguration',
    );
  });

  it('BlockPublicPolicy refuses a public policy but not one pinned to source addresses', async () => {
    await setBlock({ BlockPublicPolicy: true });
    const refused = await s3ErrorOf(
      suite.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: PUBLIC_READ })),
    );
    expect(refused.name).toBe('AccessDenied');
    expect(refused.$metadata.httpStatusCode).toBe(403);
    const pinned = JSON.parse(PUBLIC_READ);
    pinned.Statement[0].Condition = { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } };
    await suite.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(pinned) }));
    expect((await anonymousGet()).status).toBe(200);
    await suite.s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
  });

  it('RestrictPublicBuckets takes a public policy away from the anonymous public while it is set', async () => {
    await suite.s3.send(new PutBucketPolicyCommand({ Bucket, Policy: PUBLIC_READ }));
    expect((await anonymousGet()).status).toBe(200);
    await setBlock(ALL_BLOCKED);
    expect((await anonymousGet()).status).toBe(403);
    // The owner is not the public.
    const owner = await suite.s3.send(new PutObjectCommand({ Bucket, Key: 'doc2.txt', Body: 'x' }));
    expect(owner.ETag).toBeTruthy();
    await suite.s3.send(new DeletePublicAccessBlockCommand({ Bucket }));
    expect((await anonymousGet()).status).toBe(200);
  });

  it('accepts BucketOwnerEnforced ownership, the only mode without ACLs; others are 501', async () => {
    await suite.s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    );
    const other = await s3ErrorOf(
      suite.s3.send(
        new PutBucketOwnershipControlsCommand({
          Bucket,
          OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] },
        }),
      ),
    );
    expect(other.name).toBe('NotImplemented');
    expect(other.$metadata.httpStatusCode).toBe(501);
  });
});
