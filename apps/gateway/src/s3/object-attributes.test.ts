// GetObjectAttributes through the SDK: a single PUT and a COMPOSITE multipart object, parts paged,
// and the errors S3 gives.
import { createHash } from 'node:crypto';
import { GetObjectAttributesCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pattern,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
  uploadMultipart,
} from '../testing/harness.ts';

const Bucket = 'attributes';
const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

describe('GetObjectAttributes', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const parts = [pattern(5 * MiB, 1), pattern(5 * MiB, 2), pattern(1000, 3)];

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'one', Body: 'hello', ChecksumAlgorithm: 'CRC32' }));
    await uploadMultipart(s3, Bucket, 'multi', parts, { ChecksumAlgorithm: 'SHA256' });
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('answers ETag, checksum, storage class and size of a single PUT, and no parts', async () => {
    const out = await s3.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key: 'one',
        ObjectAttributes: ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'],
      }),
    );
    expect(out.ETag).toBe(createHash('md5').update('hello').digest('hex'));
    expect(out.Checksum?.ChecksumCRC32).toBeTruthy();
    expect(out.Checksum?.ChecksumType).toBe('FULL_OBJECT');
    expect(out.StorageClass).toBe('STANDARD');
    expect(out.ObjectSize).toBe(5);
    expect(out.ObjectParts).toBeUndefined();
    expect(out.LastModified).toBeInstanceOf(Date);
    const only = await s3.send(
      new GetObjectAttributesCommand({ Bucket, Key: 'one', ObjectAttributes: ['ObjectSize'] }),
    );
    expect(only.ObjectSize).toBe(5);
    expect(only.ETag).toBeUndefined();
  });

  it("lists a multipart object's parts with their sizes and checksums, paged", async () => {
    const all = await s3.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key: 'multi',
        ObjectAttributes: ['ObjectParts', 'Checksum', 'ETag'],
      }),
    );
    expect(all.ETag).toMatch(/^[0-9a-f]{32}-3$/);
    expect(all.Checksum?.ChecksumSHA256).toMatch(/-3$/);
    expect(all.Checksum?.ChecksumType).toBe('COMPOSITE');
    expect(all.ObjectParts?.TotalPartsCount).toBe(3);
    expect(all.ObjectParts?.IsTruncated).toBe(false);
    expect(all.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumSHA256])).toEqual(
      parts.map((b, i) => [i + 1, b.length, sha256(b)]),
    );
    const first = await s3.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key: 'multi',
        ObjectAttributes: ['ObjectParts'],
        MaxParts: 2,
      }),
    );
    expect(first.ObjectParts?.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
    expect(first.ObjectParts?.IsTruncated).toBe(true);
    expect(first.ObjectParts?.NextPartNumberMarker).toBe('2');
    const rest = await s3.send(
      new GetObjectAttributesCommand({
        Bucket,
        Key: 'multi',
        ObjectAttributes: ['ObjectParts'],
        PartNumberMarker: first.ObjectParts?.NextPartNumberMarker,
      }),
    );
    expect(rest.ObjectParts?.Parts?.map((p) => p.PartNumber)).toEqual([3]);
    expect(rest.ObjectParts?.IsTruncated).toBe(false);
  });

  it('refuses a missing or unknown attribute list, and answers NoSuchKey', async () => {
    const unknown = await s3ErrorOf(
      s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'one', ObjectAttributes: ['Colour' as 'ETag'] })),
    );
    expect(unknown.name).toBe('InvalidArgument');
    const missing = await s3ErrorOf(
      s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'nope', ObjectAttributes: ['ETag'] })),
    );
    expect(missing.name).toBe('NoSuchKey');
  });
});
