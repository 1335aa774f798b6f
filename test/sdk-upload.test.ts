// @aws-sdk/lib-storage `Upload` on default settings (5 MiB parts, 4 in flight, flexible checksums
// with aws-chunked stream bodies) against a real gateway: a multi-part stream and a small body.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startTestServer, type TestServer } from '@blobcache/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pattern } from './support/gateway.ts';

const MiB = 1024 * 1024;

/** A stream that yields `total` bytes in uneven pieces, as a network or file source would. */
function unevenStream(data: Buffer): Readable {
  let offset = 0;
  let i = 0;
  return new Readable({
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const n = [65_536, 1_000_003, 17, 300_000][i++ % 4] as number;
      this.push(data.subarray(offset, offset + n));
      offset += n;
    },
  });
}

describe('@aws-sdk/lib-storage Upload (default settings)', () => {
  let gw: TestServer;
  let s3: S3Client;
  const Bucket = 'lib-storage';

  beforeAll(async () => {
    gw = await startTestServer();
    s3 = new S3Client(gw.s3ClientConfig);
    await s3.send(new CreateBucketCommand({ Bucket }));
  });
  afterAll(async () => {
    s3?.destroy();
    await gw?.stop();
  });

  it('uploads a 17 MiB stream in parts and reads it back byte-identical with the -N ETag', async () => {
    const data = pattern(17 * MiB + 123, 11);
    const upload = new Upload({
      client: s3,
      params: {
        Bucket,
        Key: 'streamed/object.bin',
        Body: unevenStream(data),
        ContentType: 'application/x-test',
      },
    });
    const parts: number[] = [];
    upload.on('httpUploadProgress', (p) => {
      if (p.part !== undefined) parts.push(p.part);
    });
    const result = await upload.done();
    expect(result.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
    // The ETag is the MD5 of the 5 MiB part MD5s, as S3 computes it.
    const h = createHash('md5');
    for (let off = 0; off < data.length; off += 5 * MiB)
      h.update(
        createHash('md5')
          .update(data.subarray(off, off + 5 * MiB))
          .digest(),
      );
    expect(result.ETag).toBe(`"${h.digest('hex')}-4"`);
    expect(new Set(parts).size).toBe(4);

    const got = await s3.send(
      new GetObjectCommand({ Bucket, Key: 'streamed/object.bin', ChecksumMode: 'ENABLED' }),
    );
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    expect(got.ContentType).toBe('application/x-test');
    expect(got.ETag).toBe(result.ETag);
    const pending = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
    expect(pending.Uploads ?? []).toEqual([]);
  });

  it('a body smaller than one part is a single PutObject', async () => {
    const data = pattern(100_000, 12);
    const result = await new Upload({ client: s3, params: { Bucket, Key: 'small.bin', Body: data } }).done();
    expect(result.ETag).toBe(`"${createHash('md5').update(data).digest('hex')}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'small.bin' }));
    expect(head.ContentLength).toBe(data.length);
  });
});
