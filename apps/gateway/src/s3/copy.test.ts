import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { hashBytes, toBase64 } from '@blobcache/s3-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pattern,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const MiB = 1024 * 1024;

const md5hex = (b: Buffer): string => createHash('md5').update(b).digest('hex');

describe('CopyObject and UploadPartCopy', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'copies';
  const Other = 'copies-dest';
  const srcKey = 'src dir/a+b%c.bin';
  const CopySource = `${Bucket}/${encodeURIComponent(srcKey).replace(/%2F/g, '/')}`;
  const body = pattern(3 * MiB + 77, 4);

  async function bytesOf(b: string, Key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
    await s3.send(new CreateBucketCommand({ Bucket: Other }));
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: srcKey,
        Body: body,
        ContentType: 'text/x-src',
        Metadata: { origin: 'source' },
        ContentDisposition: 'inline',
      }),
    );
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('copies bytes and metadata (COPY) across buckets; the result carries ETag and LastModified', async () => {
    const r = await s3.send(new CopyObjectCommand({ Bucket: Other, Key: 'copy1', CopySource }));
    expect(r.CopyObjectResult?.ETag).toBe(`"${md5hex(body)}"`);
    expect(r.CopyObjectResult?.LastModified).toBeInstanceOf(Date);
    expect((await bytesOf(Other, 'copy1')).equals(body)).toBe(true);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: Other, Key: 'copy1', ChecksumMode: 'ENABLED' }),
    );
    expect(head.ContentType).toBe('text/x-src');
    expect(head.Metadata).toEqual({ origin: 'source' });
    expect(head.ContentDisposition).toBe('inline');
    // The source's checksum algorithm (CRC32 from the SDK) is kept, recomputed over the copy.
    expect(head.ChecksumCRC32).toBe(toBase64(hashBytes('CRC32', body)));
    // A leading slash and ?versionId=null are accepted.
    await s3.send(
      new CopyObjectCommand({ Bucket: Other, Key: 'copy2', CopySource: `/${CopySource}?versionId=null` }),
    );
    expect((await bytesOf(Other, 'copy2')).equals(body)).toBe(true);
  });

  it('REPLACE takes the request metadata; a requested checksum algorithm is computed', async () => {
    const r = await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'replaced',
        CopySource,
        MetadataDirective: 'REPLACE',
        ContentType: 'application/x-new',
        Metadata: { fresh: 'yes' },
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const sha = toBase64(hashBytes('SHA256', body));
    expect(r.CopyObjectResult?.ChecksumSHA256).toBe(sha);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'replaced', ChecksumMode: 'ENABLED' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ContentType).toBe('application/x-new');
    expect(got.Metadata).toEqual({ fresh: 'yes' });
    expect(got.ContentDisposition).toBeUndefined();
    expect(got.ChecksumSHA256).toBe(sha);
  });

  it('copy onto itself needs a change (InvalidRequest otherwise); with REPLACE it keeps the bytes', async () => {
    const e = await s3ErrorOf(s3.send(new CopyObjectCommand({ Bucket, Key: srcKey, CopySource })));
    expect(e.name).toBe('InvalidRequest');
    expect(e.$metadata.httpStatusCode).toBe(400);
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: srcKey,
        CopySource,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-src',
        Metadata: { origin: 'source', touched: '1' },
        ContentDisposition: 'inline',
      }),
    );
    expect((await bytesOf(Bucket, srcKey)).equals(body)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: srcKey }));
    expect(head.Metadata).toEqual({ origin: 'source', touched: '1' });
  });

  it('copy-source conditionals fail with 412 and pass when they hold', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: srcKey }));
    const etag = head.ETag as string;
    const past = new Date(Date.now() - 3600_000);
    const future = new Date(Date.now() + 3600_000);
    const failing = [
      { CopySourceIfMatch: '"00000000000000000000000000000000"' },
      { CopySourceIfNoneMatch: etag },
      { CopySourceIfModifiedSince: future },
      { CopySourceIfUnmodifiedSince: past },
    ];
    for (const cond of failing) {
      const e = await s3ErrorOf(
        s3.send(new CopyObjectCommand({ Bucket: Other, Key: 'cond', CopySource, ...cond })),
      );
      expect(e.$metadata.httpStatusCode).toBe(412);
      expect(e.name).toBe('PreconditionFailed');
    }
    await s3.send(
      new CopyObjectCommand({
        Bucket: Other,
        Key: 'cond',
        CopySource,
        CopySourceIfMatch: etag,
        CopySourceIfModifiedSince: past,
      }),
    );
    expect((await bytesOf(Other, 'cond')).equals(body)).toBe(true);
  });

  it('x-amz-copy-source is percent-decoded once: a literal "+" stays a plus, %20 is a space', async () => {
    const data = Buffer.from('plus and space');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'x+y z', Body: data }));
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'plus-copy', CopySource: `${Bucket}/x+y%20z` }));
    expect((await bytesOf(Bucket, 'plus-copy')).equals(data)).toBe(true);
  });

  it('missing sources and versions', async () => {
    const noKey = await s3ErrorOf(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${Bucket}/nope` })),
    );
    expect(noKey.name).toBe('NoSuchKey');
    const noBucket = await s3ErrorOf(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: 'no-such-bucket-here/k' })),
    );
    expect(noBucket.name).toBe('NoSuchBucket');
    const version = await s3ErrorOf(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: `${CopySource}?versionId=abc` })),
    );
    expect(version.$metadata.httpStatusCode).toBe(404);
    const bad = await s3ErrorOf(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'x', CopySource: 'justabucket' })),
    );
    expect(bad.name).toBe('InvalidArgument');
  });

  it('UploadPartCopy builds a multipart object from ranges of a source; a copied multipart object gets a plain ETag', async () => {
    const big = pattern(6 * MiB + 5, 8);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'big', Body: big }));
    const Key = 'assembled';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const split = 5 * MiB;
    const p1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/big`,
        CopySourceRange: `bytes=0-${split - 1}`,
      }),
    );
    expect(p1.CopyPartResult?.ETag).toBe(`"${md5hex(big.subarray(0, split))}"`);
    const p2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 2,
        CopySource: `${Bucket}/big`,
        CopySourceRange: `bytes=${split}-${big.length - 1}`,
      }),
    );
    const bad = await s3ErrorOf(
      s3.send(
        new UploadPartCopyCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: 3,
          CopySource: `${Bucket}/big`,
          CopySourceRange: `bytes=0-${big.length}`,
        }),
      ),
    );
    expect([400, 416]).toContain(bad.$metadata.httpStatusCode);
    const failedCond = await s3ErrorOf(
      s3.send(
        new UploadPartCopyCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: 3,
          CopySource: `${Bucket}/big`,
          CopySourceIfMatch: '"nope"',
        }),
      ),
    );
    expect(failedCond.$metadata.httpStatusCode).toBe(412);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.CopyPartResult?.ETag },
            { PartNumber: 2, ETag: p2.CopyPartResult?.ETag },
          ],
        },
      }),
    );
    expect(done.ETag).toMatch(/-2"$/);
    expect((await bytesOf(Bucket, Key)).equals(big)).toBe(true);

    const flat = await s3.send(
      new CopyObjectCommand({ Bucket, Key: 'flat', CopySource: `${Bucket}/${Key}` }),
    );
    expect(flat.CopyObjectResult?.ETag).toBe(`"${md5hex(big)}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'flat' }));
    expect(head.PartsCount).toBeUndefined();
  });
});
