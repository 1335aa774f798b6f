// GetObject / HeadObject ?partNumber with x-amz-checksum-mode: ENABLED on multipart objects: the
// part's own checksum (never the object's), checked by the SDK against the bytes it received and
// here against an independent digest of the part.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checksumsOf,
  pattern,
  s3Client,
  startGatewayWithClient,
  type TestGateway,
  uploadMultipart,
} from '../testing/harness.ts';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');
const crc32b64 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b));
  return out.toString('base64');
};

describe('partNumber reads return the part checksum', () => {
  let gw: TestGateway;
  let s3: S3Client;
  /** Sends no checksum the operation does not require (UploadPart then carries none). */
  let plain: S3Client;
  const Bucket = 'part-sums';
  const bodies = [pattern(5 * MiB, 11), pattern(5 * MiB, 12), pattern(4321, 13)];

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient());
    plain = s3Client(gw, { requestChecksumCalculation: 'WHEN_REQUIRED' });
    await s3.send(new CreateBucketCommand({ Bucket }));
  });
  afterAll(async () => {
    s3.destroy();
    plain.destroy();
    await gw.stop();
  });

  async function getPart(Key: string, PartNumber: number, client = s3) {
    const got = await client.send(new GetObjectCommand({ Bucket, Key, PartNumber, ChecksumMode: 'ENABLED' }));
    // Reading the body to its end is where the SDK compares the checksum with the bytes.
    const body = Buffer.from(await got.Body!.transformToByteArray());
    return { got, body };
  }

  it('COMPOSITE SHA256: each part answers with its own SHA256 (as UploadPart returned it), on GET and HEAD', async () => {
    const Key = 'sha256-composite';
    const uploaded = await uploadMultipart(s3, Bucket, Key, bodies, { ChecksumAlgorithm: 'SHA256' });
    for (const [i, part] of bodies.entries()) {
      const { got, body } = await getPart(Key, i + 1);
      expect(body.equals(part)).toBe(true);
      expect(got.ChecksumSHA256).toBe(sha256(part));
      expect(got.ChecksumSHA256).toBe(uploaded[i]!.ChecksumSHA256);
      expect(checksumsOf(got)).toEqual({ ChecksumSHA256: sha256(part), ChecksumType: 'COMPOSITE' });
      expect(got.PartsCount).toBe(3);
      expect(got.ContentLength).toBe(part.length);
      const head = await s3.send(
        new HeadObjectCommand({ Bucket, Key, PartNumber: i + 1, ChecksumMode: 'ENABLED' }),
      );
      expect(checksumsOf(head)).toEqual({ ChecksumSHA256: sha256(part), ChecksumType: 'COMPOSITE' });
      expect(head.PartsCount).toBe(3);
    }
    // Only when asked, as for whole objects.
    const unasked = await s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 1 }));
    expect(checksumsOf(unasked)).toEqual({});
    // The whole object still answers with the composite value.
    const whole = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(whole.ChecksumSHA256).toMatch(/-3$/);
  });

  it('COMPOSITE CRC32 (the default type for CRC32): each part answers with its CRC32', async () => {
    const Key = 'crc32-composite';
    await uploadMultipart(s3, Bucket, Key, [bodies[0]!, bodies[2]!], { ChecksumAlgorithm: 'CRC32' });
    const { got, body } = await getPart(Key, 2);
    expect(body.equals(bodies[2]!)).toBe(true);
    expect(checksumsOf(got)).toEqual({ ChecksumCRC32: crc32b64(bodies[2]!), ChecksumType: 'COMPOSITE' });
    const first = await getPart(Key, 1);
    expect(first.got.ChecksumCRC32).toBe(crc32b64(bodies[0]!));
  });

  it('FULL_OBJECT with several parts: no checksum on a part (the object value would not match it)', async () => {
    const Key = 'crc32-full';
    await uploadMultipart(s3, Bucket, Key, [bodies[0]!, bodies[2]!], {
      ChecksumAlgorithm: 'CRC32',
      ChecksumType: 'FULL_OBJECT',
    });
    for (const n of [1, 2]) {
      const { got, body } = await getPart(Key, n);
      expect(body.length).toBe(n === 1 ? bodies[0]!.length : bodies[2]!.length);
      expect(checksumsOf(got)).toEqual({});
      expect(got.PartsCount).toBe(2);
    }
    const whole = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(whole.ChecksumCRC32).toBe(crc32b64(Buffer.concat([bodies[0]!, bodies[2]!])));
  });

  it('FULL_OBJECT with one part: the part checksum, which is the object checksum', async () => {
    const Key = 'crc32-full-one';
    await uploadMultipart(s3, Bucket, Key, [bodies[2]!], {
      ChecksumAlgorithm: 'CRC32',
      ChecksumType: 'FULL_OBJECT',
    });
    const { got } = await getPart(Key, 1);
    expect(checksumsOf(got)).toEqual({ ChecksumCRC32: crc32b64(bodies[2]!), ChecksumType: 'FULL_OBJECT' });
  });

  it('uploaded without checksums: parts answer with none, though the object has its CRC64NVME', async () => {
    const Key = 'no-sums';
    const uploaded = await uploadMultipart(plain, Bucket, Key, [bodies[0]!, bodies[2]!]);
    expect(uploaded).toEqual([{}, {}]); // nothing was sent or echoed per part
    for (const n of [1, 2]) {
      const { got } = await getPart(Key, n, plain);
      expect(checksumsOf(got)).toEqual({});
    }
    const whole = await plain.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(whole.ChecksumCRC64NVME).toBeDefined();
    expect(whole.ChecksumType).toBe('FULL_OBJECT');
    // The wire itself: no x-amz-checksum-* header on the part response at all.
    let wire: Record<string, string> = {};
    plain.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        wire = (out.response as { headers: Record<string, string> }).headers;
        return out;
      },
      { step: 'deserialize', name: 'captureHeaders' },
    );
    await plain.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 1, ChecksumMode: 'ENABLED' }));
    plain.middlewareStack.remove('captureHeaders');
    expect(wire['x-amz-mp-parts-count']).toBe('2');
    expect(wire['content-range']).toBe(
      `bytes 0-${bodies[0]!.length - 1}/${bodies[0]!.length + bodies[2]!.length}`,
    );
    expect(Object.keys(wire).filter((h) => h.startsWith('x-amz-checksum'))).toEqual([]);
  });

  it('parts uploaded with a CRC32 but no algorithm declared at creation: parts answer with none', async () => {
    // The JS SDK's default: UploadPart computes a CRC32 although CreateMultipartUpload named none.
    const Key = 'part-crc-only';
    const uploaded = await uploadMultipart(s3, Bucket, Key, [bodies[0]!, bodies[2]!]);
    expect(uploaded[0]!.ChecksumCRC32).toBe(crc32b64(bodies[0]!));
    const { got } = await getPart(Key, 1);
    expect(checksumsOf(got)).toEqual({});
  });

  it('a part made by UploadPartCopy answers with the checksum computed while copying', async () => {
    const Key = 'copied-part';
    await s3.send(new PutObjectCommand({ Bucket, Key: 'copy-src', Body: bodies[0] }));
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }),
    );
    const copied = await s3.send(
      new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/copy-src` }),
    );
    expect(copied.CopyPartResult?.ChecksumSHA256).toBe(sha256(bodies[0]!));
    const tail = await s3.send(
      new UploadPartCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 2,
        Body: bodies[2],
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            {
              PartNumber: 1,
              ETag: copied.CopyPartResult?.ETag,
              ChecksumSHA256: copied.CopyPartResult?.ChecksumSHA256,
            },
            { PartNumber: 2, ETag: tail.ETag, ChecksumSHA256: tail.ChecksumSHA256 },
          ],
        },
      }),
    );
    const { got, body } = await getPart(Key, 1);
    expect(body.equals(bodies[0]!)).toBe(true);
    expect(checksumsOf(got)).toEqual({ ChecksumSHA256: sha256(bodies[0]!), ChecksumType: 'COMPOSITE' });
  });
});
