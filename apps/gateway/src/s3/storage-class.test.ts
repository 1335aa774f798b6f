// Storage classes through the SDK: an immediately readable class is recorded and reported where
// S3 reports it; archive classes answer 501 and unknown ones InvalidStorageClass.
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3ErrorOf, uploadMultipart, useGatewayWithClient } from '../testing/harness.ts';

const Bucket = 'classes';

describe('storage classes', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });

  it('records STANDARD_IA and reports it on HEAD, GET, listings and attributes; STANDARD stays implicit', async () => {
    const { s3 } = suite;
    await s3.send(new PutObjectCommand({ Bucket, Key: 'ia', Body: 'cold-ish', StorageClass: 'STANDARD_IA' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'std', Body: 'hot' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'ia' }))).StorageClass).toBe('STANDARD_IA');
    expect((await s3.send(new GetObjectCommand({ Bucket, Key: 'ia' }))).StorageClass).toBe('STANDARD_IA');
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'std' }))).StorageClass).toBeUndefined();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    expect(listed.Contents?.map((c) => [c.Key, c.StorageClass])).toEqual([
      ['ia', 'STANDARD_IA'],
      ['std', 'STANDARD'],
    ]);
    const attributes = await s3.send(
      new GetObjectAttributesCommand({ Bucket, Key: 'ia', ObjectAttributes: ['StorageClass'] }),
    );
    expect(attributes.StorageClass).toBe('STANDARD_IA');
    // A copy takes its own request's class, STANDARD by default, never the source's.
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'ia-copy', CopySource: `${Bucket}/ia` }));
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'ia-copy' }))).StorageClass).toBeUndefined();
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'std-copy',
        CopySource: `${Bucket}/std`,
        StorageClass: 'ONEZONE_IA',
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'std-copy' }))).StorageClass).toBe(
      'ONEZONE_IA',
    );
  });

  it('carries the class of a multipart upload to its parts listing and the completed object', async () => {
    const { s3 } = suite;
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key: 'pending', StorageClass: 'INTELLIGENT_TIERING' }),
    );
    expect((await s3.send(new ListPartsCommand({ Bucket, Key: 'pending', UploadId }))).StorageClass).toBe(
      'INTELLIGENT_TIERING',
    );
    await uploadMultipart(s3, Bucket, 'multi', [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.from('end')], {
      StorageClass: 'GLACIER_IR',
    });
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'multi' }))).StorageClass).toBe('GLACIER_IR');
  });

  it('refuses archive classes (they need RestoreObject) with 501 and unknown classes with 400', async () => {
    const { s3 } = suite;
    const glacier = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'g', Body: 'x', StorageClass: 'GLACIER' })),
    );
    expect(glacier.name).toBe('NotImplemented');
    const odd = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'o', Body: 'x', StorageClass: 'EXPRESS_ONEZONE' })),
    );
    expect(odd.name).toBe('InvalidStorageClass');
    expect(odd.$metadata.httpStatusCode).toBe(400);
  });
});
