// Every SigV4 payload mode through the real server, including the signed streaming modes no
// installed SDK sends (bodies built with s3-protocol's test encoder and signer).
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHasher, toBase64 } from '@blobcache/s3-protocol';
import { encodeAwsChunked, signV4 } from '@blobcache/s3-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rawRequest,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'modes';
const data = Buffer.from(`${'x'.repeat(70_000)}the end`);
const crc32 = toBase64(
  (() => {
    const h = createHasher('CRC32');
    h.update(data);
    return h.digest();
  })(),
);

describe('SigV4 payload modes', () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  async function put(
    key: string,
    payloadHash: string,
    extra: Record<string, string>,
    body: (s: ReturnType<typeof signV4>['signing']) => Buffer,
  ) {
    const rawPath = `/${Bucket}/${key}`;
    const signed = signV4({
      method: 'PUT',
      rawPath,
      rawQuery: '',
      headers: { host: `127.0.0.1:${gw.port}`, ...extra },
      accessKeyId: 'blobcache',
      secretAccessKey: 'blobcache-secret',
      region: 'us-east-1',
      payloadHash,
    });
    const bytes = body(signed.signing);
    return rawRequest(gw.port, {
      method: 'PUT',
      path: rawPath,
      headers: { ...signed.headers, 'content-length': bytes.length },
      body: bytes,
    });
  }

  async function stored(key: string): Promise<Buffer | undefined> {
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
      return Buffer.from(await got.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }

  it('signed payload (hex SHA-256) and a wrong declared hash', async () => {
    const sha = createHash('sha256').update(data).digest('hex');
    expect((await put('signed', sha, {}, () => data)).status).toBe(200);
    expect((await stored('signed'))?.equals(data)).toBe(true);
    const bad = await put('signed-bad', createHash('sha256').update('other').digest('hex'), {}, () => data);
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toContain('XAmzContentSHA256Mismatch');
    expect(await stored('signed-bad')).toBeUndefined();
  });

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chained chunk signatures; a tampered chunk stores nothing', async () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
    };
    const ok = await put('streamed', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', headers, (signing) =>
      encodeAwsChunked(data, { chunkSizes: [65_536], signing }),
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe(`"${createHash('md5').update(data).digest('hex')}"`);
    expect((await stored('streamed'))?.equals(data)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'streamed' }));
    expect(head.ContentEncoding).toBeUndefined(); // aws-chunked is transfer framing, not stored
    const tampered = await put('streamed-bad', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', headers, (signing) => {
      const body = encodeAwsChunked(data, { chunkSizes: [65_536], signing });
      body[body.indexOf('xxxx')] = 0x79; // flip one payload byte after signing
      return body;
    });
    expect(tampered.status).toBe(403);
    expect(tampered.body.toString()).toContain('SignatureDoesNotMatch');
    expect(await stored('streamed-bad')).toBeUndefined();
  });

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed CRC32 trailer', async () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const ok = await put('trailer', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', headers, (signing) =>
      encodeAwsChunked(data, {
        chunkSizes: [10_000],
        signing,
        trailers: [['x-amz-checksum-crc32', crc32]],
        signTrailer: true,
      }),
    );
    expect(ok.status).toBe(200);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'trailer', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32).toBe(crc32);
    const wrong = await put('trailer-bad', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', headers, (signing) =>
      encodeAwsChunked(data, {
        chunkSizes: [10_000],
        signing,
        trailers: [['x-amz-checksum-crc32', 'AAAAAA==']],
        signTrailer: true,
      }),
    );
    expect(wrong.status).toBe(400);
    expect(await stored('trailer-bad')).toBeUndefined();
  });

  it('STREAMING-UNSIGNED-PAYLOAD-TRAILER built by hand, any chunk sizes', async () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const ok = await put('unsigned-trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', headers, () =>
      encodeAwsChunked(data, { chunkSizes: [1, 2, 3, 7000], trailers: [['x-amz-checksum-crc32', crc32]] }),
    );
    expect(ok.status).toBe(200);
    expect((await stored('unsigned-trailer'))?.equals(data)).toBe(true);
  });
});
