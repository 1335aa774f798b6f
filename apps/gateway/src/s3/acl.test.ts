// ACLs with ACLs disabled, through the SDK: reads show the owner's full control; writes pass only
// when they ask for exactly that.
import {
  GetBucketAclCommand,
  GetObjectAclCommand,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'acls';

describe('ACLs (bucket owner enforced)', () => {
  let gw: TestGateway;
  let s3: S3Client;

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'doc.txt', Body: 'x' }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('GetBucketAcl and GetObjectAcl answer the owner with FULL_CONTROL', async () => {
    for (const out of [
      await s3.send(new GetBucketAclCommand({ Bucket })),
      await s3.send(new GetObjectAclCommand({ Bucket, Key: 'doc.txt' })),
    ]) {
      expect(out.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
      expect(out.Grants).toHaveLength(1);
      expect(out.Grants?.[0]?.Permission).toBe('FULL_CONTROL');
      expect(out.Grants?.[0]?.Grantee?.Type).toBe('CanonicalUser');
      expect(out.Grants?.[0]?.Grantee?.ID).toBe(out.Owner?.ID);
    }
  });

  it("PutObjectAcl / PutBucketAcl accept the owner's full control and refuse anything more", async () => {
    await s3.send(new PutObjectAclCommand({ Bucket, Key: 'doc.txt', ACL: 'private' }));
    await s3.send(new PutBucketAclCommand({ Bucket, ACL: 'private' }));
    const { Owner, Grants } = await s3.send(new GetObjectAclCommand({ Bucket, Key: 'doc.txt' }));
    await s3.send(
      new PutObjectAclCommand({ Bucket, Key: 'doc.txt', AccessControlPolicy: { Owner, Grants } }),
    );

    const publicRead = await s3ErrorOf(
      s3.send(new PutObjectAclCommand({ Bucket, Key: 'doc.txt', ACL: 'public-read' })),
    );
    expect(publicRead.name).toBe('AccessControlListNotSupported');
    expect(publicRead.$metadata.httpStatusCode).toBe(400);
    const allUsers = await s3ErrorOf(
      s3.send(
        new PutBucketAclCommand({
          Bucket,
          AccessControlPolicy: {
            Owner,
            Grants: [
              ...(Grants ?? []),
              {
                Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' },
                Permission: 'READ',
              },
            ],
          },
        }),
      ),
    );
    expect(allUsers.name).toBe('AccessControlListNotSupported');
  });

  it('answers NoSuchKey and NoSuchBucket for what is not there', async () => {
    expect((await s3ErrorOf(s3.send(new GetObjectAclCommand({ Bucket, Key: 'nope' })))).name).toBe(
      'NoSuchKey',
    );
    expect((await s3ErrorOf(s3.send(new GetBucketAclCommand({ Bucket: 'no-such-bucket' })))).name).toBe(
      'NoSuchBucket',
    );
    expect(
      (await s3ErrorOf(s3.send(new PutObjectAclCommand({ Bucket, Key: 'nope', ACL: 'private' })))).name,
    ).toBe('NoSuchKey');
  });
});
