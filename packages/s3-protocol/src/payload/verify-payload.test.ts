import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  PutObjectCommand,
  S3Client,
  type ChecksumAlgorithm as SdkChecksumAlgorithm,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../auth/authenticate.ts';
import { deriveSigningKey } from '../auth/signing-key.ts';
import type { AuthContext } from '../auth/types.ts';
import { hashBytes, toBase64 } from '../checksums/hashers.ts';
import { S3Error } from '../errors.ts';
import { encodeAwsChunked, pieces } from '../testing/aws-chunked-encoder.ts';
import { type CaptureServer, startCaptureServer } from '../testing/capture-server.ts';
import { s3ErrorCode } from '../testing/error-code.ts';
import { stripAwsChunkedEncoding, type VerifiedPayload, verifyPayload } from './verify-payload.ts';

async function drain(v: VerifiedPayload): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of v.body) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

async function failure(v: VerifiedPayload): Promise<S3Error> {
  try {
    await drain(v);
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error('expected the body to fail verification');
}

const unsigned: AuthContext = { method: 'sigv4-header', accessKeyId: 'a', payloadMode: 'UNSIGNED-PAYLOAD' };

describe('stripAwsChunkedEncoding', () => {
  it('removes only the aws-chunked token', () => {
    expect(stripAwsChunkedEncoding('aws-chunked')).toBeUndefined();
    expect(stripAwsChunkedEncoding('gzip, aws-chunked')).toBe('gzip');
    expect(stripAwsChunkedEncoding('aws-chunked,gzip,br')).toBe('gzip, br');
    expect(stripAwsChunkedEncoding('gzip')).toBe('gzip');
    expect(stripAwsChunkedEncoding(undefined)).toBeUndefined();
  });
});

describe('plain bodies', () => {
  const data = randomBytes(10_000);
  const sha = createHash('sha256').update(data).digest('hex');
  const signedCtx: AuthContext = { ...unsigned, payloadMode: 'SIGNED', declaredSha256: sha };

  it('passes a SIGNED body whose hash matches, computing requested digests', async () => {
    const v = verifyPayload(
      pieces(data, [1, 7, 4096]),
      signedCtx,
      { 'content-length': '10000' },
      { compute: ['MD5', 'CRC64NVME'] },
    );
    expect((await drain(v)).equals(data)).toBe(true);
    const r = v.result();
    expect(r.length).toBe(10_000);
    expect(r.digests.get('MD5')!.equals(hashBytes('MD5', data))).toBe(true);
    expect(r.digests.get('CRC64NVME')!.equals(hashBytes('CRC64NVME', data))).toBe(true);
  });

  it('rejects a SIGNED body whose hash differs (XAmzContentSHA256Mismatch)', async () => {
    const v = verifyPayload(pieces(data, [999]), { ...signedCtx, declaredSha256: 'a'.repeat(64) }, {});
    const e = await failure(v);
    expect(e.code).toBe('XAmzContentSHA256Mismatch');
    expect(e.extra?.S3ComputedContentSHA256).toBe(sha);
    expect(() => v.result()).toThrow();
  });

  it('checks Content-MD5: malformed → InvalidDigest before reading, mismatch → BadDigest', async () => {
    expect(s3ErrorCode(() => verifyPayload(pieces(data, [10]), unsigned, { 'content-md5': 'zzz' }))).toBe(
      'InvalidDigest',
    );
    const good = toBase64(hashBytes('MD5', data));
    await drain(verifyPayload(pieces(data, [100]), unsigned, { 'content-md5': good }));
    const bad = toBase64(hashBytes('MD5', Buffer.from('other')));
    expect((await failure(verifyPayload(pieces(data, [100]), unsigned, { 'content-md5': bad }))).code).toBe(
      'BadDigest',
    );
  });

  it('checks a header checksum (the JS SDK Buffer-body shape)', async () => {
    const crc = toBase64(hashBytes('CRC32', data));
    const v = verifyPayload(pieces(data, [333]), unsigned, {
      'x-amz-sdk-checksum-algorithm': 'CRC32',
      'x-amz-checksum-crc32': crc,
    });
    await drain(v);
    expect(v.result().checksum).toEqual({ algorithm: 'CRC32', value: crc });
    const wrong = verifyPayload(pieces(data, [333]), unsigned, { 'x-amz-checksum-crc32': 'AAAAAA==' });
    expect((await failure(wrong)).code).toBe('BadDigest');
  });

  it('accepts the empty body the JS SDK sends for an empty PutObject', async () => {
    const v = verifyPayload(pieces(Buffer.alloc(0), [1]), unsigned, {
      'content-length': '0',
      'x-amz-checksum-crc32': 'AAAAAA==',
    });
    expect((await drain(v)).length).toBe(0);
    expect(v.result().checksum?.value).toBe('AAAAAA==');
  });

  it('enforces the declared length and the size limit', async () => {
    expect(
      (await failure(verifyPayload(pieces(data, [500]), unsigned, { 'content-length': '10001' }))).code,
    ).toBe('IncompleteBody');
    expect(
      (await failure(verifyPayload(pieces(data, [500]), unsigned, { 'content-length': '9000' }))).code,
    ).toBe('InvalidRequest');
    expect(
      (await failure(verifyPayload(pieces(data, [500]), unsigned, {}, { maxPayloadBytes: 5000 }))).code,
    ).toBe('EntityTooLarge');
    expect(
      s3ErrorCode(() =>
        verifyPayload(
          pieces(data, [500]),
          unsigned,
          { 'content-length': '10000' },
          { maxPayloadBytes: 5000 },
        ),
      ),
    ).toBe('EntityTooLarge');
  });
});

// The worked example of the AWS documentation ("Signature Calculations for the Authorization
// Header: Transferring Payload in Multiple Chunks", Example: PUT Object): 66560 bytes of 'a' in a
// 64 KiB and a 1 KiB chunk, with the published seed and chunk signatures.
describe('AWS documentation example: STREAMING-AWS4-HMAC-SHA256-PAYLOAD', () => {
  const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const SIGS = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  const headers = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'content-length': '66824',
  };
  const lookup = (id: string): string | undefined =>
    id === 'AKIAIOSFODNN7EXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined;
  const now = new Date(Date.UTC(2013, 4, 24, 0, 3, 0));
  const body = Buffer.concat([
    Buffer.from(`10000;chunk-signature=${SIGS[0]}\r\n`),
    Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${SIGS[1]}\r\n`),
    Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${SIGS[2]}\r\n\r\n`),
  ]);

  function auth(): AuthContext {
    return authenticate(
      { method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers },
      lookup,
      { region: 'us-east-1', now },
    );
  }

  it('verifies the seed signature and every published chunk signature', async () => {
    expect(body.length).toBe(66824);
    const ctx = auth();
    expect(ctx.payloadMode).toBe('STREAMING-SIGNED');
    expect(ctx.seedSignature).toBe(SEED);
    for (const split of [[66824], [1], [7, 13, 4096], [65_000]]) {
      const v = verifyPayload(pieces(body, split), ctx, headers, { compute: ['MD5'] });
      const out = await drain(v);
      expect(out.equals(Buffer.alloc(66560, 'a'))).toBe(true);
      expect(v.chunked).toBe(true);
    }
  });

  it('rejects altered data, a swapped signature, truncation and trailing junk', async () => {
    const ctx = auth();
    const altered = Buffer.from(body);
    altered[200] = 0x62;
    expect((await failure(verifyPayload(pieces(altered, [5000]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
    const swapped = Buffer.from(body.toString('latin1').replace(SIGS[1]!, SIGS[0]!), 'latin1');
    expect((await failure(verifyPayload(pieces(swapped, [5000]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
    expect((await failure(verifyPayload(pieces(body.subarray(0, 66000), [5000]), ctx, headers))).code).toBe(
      'IncompleteBody',
    );
    expect(
      (await failure(verifyPayload(pieces(body.subarray(0, body.length - 10), [5000]), ctx, headers))).code,
    ).toBe('IncompleteBody');
    // Only the closing empty line missing: every signature has been checked, so it is accepted.
    expect(
      (await drain(verifyPayload(pieces(body.subarray(0, body.length - 2), [5000]), ctx, headers))).length,
    ).toBe(66560);
    const junk = Buffer.concat([body, Buffer.from('extra')]);
    expect((await failure(verifyPayload(pieces(junk, [5000]), ctx, headers))).code).toBe('IncompleteBody');
    const unsignedChunk = Buffer.from(
      body.toString('latin1').replace(`;chunk-signature=${SIGS[0]}`, ''),
      'latin1',
    );
    expect((await failure(verifyPayload(pieces(unsignedChunk, [5000]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
  });
});

describe('signed streaming with trailers (encoder written from the AWS docs)', () => {
  const secret = 'secret';
  const amzDate = '20261125T120000Z';
  const scope = '20261125/us-east-1/s3/aws4_request';
  const signingKey = deriveSigningKey(secret, '20261125', 'us-east-1', 's3');
  const seedSignature = 'ab'.repeat(32);
  const ctx: AuthContext = {
    method: 'sigv4-header',
    accessKeyId: 'a',
    payloadMode: 'STREAMING-SIGNED-TRAILER',
    signingKey,
    seedSignature,
    amzDate,
    scope,
  };
  const data = randomBytes(50_000);
  const crc = toBase64(hashBytes('CRC32C', data));
  const headers = {
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': String(data.length),
    'x-amz-trailer': 'x-amz-checksum-crc32c',
  };
  const signing = { signingKey, seedSignature, amzDate, scope };

  it('decodes tiny and odd chunk sizes and verifies the trailer signature and checksum', async () => {
    for (const chunkSizes of [[1, 2, 3], [8192], [49_999], [100_000]]) {
      const body = encodeAwsChunked(data, {
        chunkSizes: chunkSizes.length === 3 ? Array.from({ length: 300 }, (_, i) => (i % 3) + 1) : chunkSizes,
        signing,
        trailers: [['x-amz-checksum-crc32c', crc]],
        signTrailer: true,
      });
      const v = verifyPayload(pieces(body, [1, 2, 1000]), ctx, headers);
      expect((await drain(v)).equals(data)).toBe(true);
      expect(v.result().checksum).toEqual({ algorithm: 'CRC32C', value: crc });
      expect(v.result().trailers.get('x-amz-checksum-crc32c')).toBe(crc);
    }
  });

  it('rejects a bad trailer signature, a missing one, a wrong checksum and a missing trailer', async () => {
    const good = encodeAwsChunked(data, {
      chunkSizes: [10_000],
      signing,
      trailers: [['x-amz-checksum-crc32c', crc]],
      signTrailer: true,
    });
    const badSig = Buffer.from(
      good
        .toString('latin1')
        .replace(
          /x-amz-trailer-signature:([0-9a-f])/,
          (_m, c: string) => `x-amz-trailer-signature:${c === '0' ? '1' : '0'}`,
        ),
      'latin1',
    );
    expect((await failure(verifyPayload(pieces(badSig, [4096]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
    const noSig = encodeAwsChunked(data, {
      chunkSizes: [10_000],
      signing,
      trailers: [['x-amz-checksum-crc32c', crc]],
    });
    expect((await failure(verifyPayload(pieces(noSig, [4096]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
    // A trailer value changed after signing breaks the trailer signature.
    const tampered = Buffer.from(good.toString('latin1').replace(crc, 'AAAAAA=='), 'latin1');
    expect((await failure(verifyPayload(pieces(tampered, [4096]), ctx, headers))).code).toBe(
      'SignatureDoesNotMatch',
    );
    // Correctly signed but wrong checksum → BadDigest.
    const wrongCrc = encodeAwsChunked(data, {
      chunkSizes: [10_000],
      signing,
      trailers: [['x-amz-checksum-crc32c', 'AAAAAA==']],
      signTrailer: true,
    });
    expect((await failure(verifyPayload(pieces(wrongCrc, [4096]), ctx, headers))).code).toBe('BadDigest');
    const noTrailer = encodeAwsChunked(data, { chunkSizes: [10_000], signing, signTrailer: true });
    expect((await failure(verifyPayload(pieces(noTrailer, [4096]), ctx, headers))).code).toBe(
      'MalformedTrailerError',
    );
  });

  it('refuses trailers that x-amz-trailer did not announce', async () => {
    const body = encodeAwsChunked(data, {
      chunkSizes: [10_000],
      signing,
      trailers: [
        ['x-amz-checksum-crc32c', crc],
        ['x-amz-checksum-sha1', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
      ],
      signTrailer: true,
    });
    expect((await failure(verifyPayload(pieces(body, [4096]), ctx, headers))).code).toBe(
      'MalformedTrailerError',
    );
  });

  it('enforces x-amz-decoded-content-length', async () => {
    const body = encodeAwsChunked(data, {
      chunkSizes: [10_000],
      signing,
      trailers: [['x-amz-checksum-crc32c', crc]],
      signTrailer: true,
    });
    const longer = { ...headers, 'x-amz-decoded-content-length': String(data.length + 1) };
    expect((await failure(verifyPayload(pieces(body, [4096]), ctx, longer))).code).toBe('IncompleteBody');
    const shorter = { ...headers, 'x-amz-decoded-content-length': String(data.length - 1) };
    expect((await failure(verifyPayload(pieces(body, [4096]), ctx, shorter))).code).toBe('InvalidRequest');
  });

  it('bounds the chunk-header line and the trailer section', async () => {
    const hugeHeader = Buffer.from(`10;${'x'.repeat(10_000)}\r\n`);
    expect((await failure(verifyPayload(pieces(hugeHeader, [100]), ctx, headers))).code).toBe(
      'IncompleteBody',
    );
    const hugeTrailer = Buffer.concat([
      encodeAwsChunked(Buffer.alloc(0), { chunkSizes: [], signing }).subarray(0, -2),
      Buffer.from(`x-amz-meta-pad:${'y'.repeat(20_000)}\r\n\r\n`),
    ]);
    expect(
      (
        await failure(
          verifyPayload(pieces(hugeTrailer, [100]), ctx, { ...headers, 'x-amz-decoded-content-length': '0' }),
        )
      ).code,
    ).toBe('MalformedTrailerError');
  });

  it('STREAMING-SIGNED without trailers verifies the chain, including an empty body', async () => {
    const plainCtx: AuthContext = { ...ctx, payloadMode: 'STREAMING-SIGNED' };
    const h = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) };
    const body = encodeAwsChunked(data, { chunkSizes: [8192], signing });
    expect((await drain(verifyPayload(pieces(body, [3000]), plainCtx, h))).equals(data)).toBe(true);
    const empty = encodeAwsChunked(Buffer.alloc(0), { chunkSizes: [], signing });
    expect(
      (
        await drain(
          verifyPayload(pieces(empty, [1]), plainCtx, { ...h, 'x-amz-decoded-content-length': '0' }),
        )
      ).length,
    ).toBe(0);
    const withTrailer = encodeAwsChunked(data, {
      chunkSizes: [8192],
      signing,
      trailers: [['x-amz-checksum-crc32c', crc]],
    });
    expect((await failure(verifyPayload(pieces(withTrailer, [3000]), plainCtx, h))).code).toBe(
      'MalformedTrailerError',
    );
  });

  it('rejects header-level contradictions before reading', () => {
    expect(
      s3ErrorCode(() =>
        verifyPayload(
          pieces(data, [1]),
          { ...ctx, payloadMode: 'SIGNED', declaredSha256: '0'.repeat(64) },
          headers,
        ),
      ),
    ).toBe('InvalidRequest');
    expect(
      s3ErrorCode(() =>
        verifyPayload(pieces(data, [1]), { ...unsigned, payloadMode: 'STREAMING-SIGNED' }, headers),
      ),
    ).toBe('InvalidRequest');
    expect(
      s3ErrorCode(() =>
        verifyPayload(pieces(data, [1]), unsigned, { 'x-amz-trailer': 'x-amz-checksum-crc32' }),
      ),
    ).toBe('InvalidRequest');
  });
});

describe('bodies sent by @aws-sdk/client-s3 (STREAMING-UNSIGNED-PAYLOAD-TRAILER, captured on loopback)', () => {
  let server: CaptureServer;
  let client: S3Client;
  const secrets = (id: string): string | undefined => (id === 'AKID' ? 'SECRET' : undefined);

  beforeAll(async () => {
    server = await startCaptureServer(() => ({ status: 200, headers: { etag: '"x"' } }));
    client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  const sizes = [0, 1, 100, 70_000, 300_001];
  const algorithms: (SdkChecksumAlgorithm | undefined)[] = [
    undefined,
    'CRC32C',
    'SHA1',
    'SHA256',
    'CRC64NVME',
  ];

  it('decodes stream uploads of many sizes and algorithms and verifies their trailer checksums', async () => {
    for (const algorithm of algorithms) {
      for (const size of sizes) {
        const data = randomBytes(size);
        // Tiny stream reads make the SDK emit tiny chunks.
        const stream = Readable.from(
          (function* () {
            for (let p = 0; p < data.length; p += 4099) yield data.subarray(p, p + 4099);
          })(),
        );
        const before = server.requests.length;
        await client.send(
          new PutObjectCommand({
            Bucket: 'bkt',
            Key: `k-${size}`,
            Body: stream,
            ContentLength: size,
            ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}),
          }),
        );
        const c = server.requests[before]!;
        const ctx = authenticate(
          { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery, headers: c.headers },
          secrets,
          {
            region: 'us-east-1',
            now: new Date(),
          },
        );
        if (size > 0) {
          expect(ctx.payloadMode, `${algorithm} ${size}`).toBe('STREAMING-UNSIGNED-TRAILER');
          expect(c.headers['content-encoding']).toContain('aws-chunked');
        }
        const v = verifyPayload(pieces(c.body, [1, 5, 16_384]), ctx, c.headers, { compute: ['MD5'] });
        const out = await drain(v);
        expect(out.equals(data), `${algorithm} ${size}`).toBe(true);
        const r = v.result();
        expect(r.checksum?.algorithm).toBe(algorithm ?? 'CRC32');
        expect(r.digests.get('MD5')!.equals(hashBytes('MD5', data))).toBe(true);

        // The same capture with one payload byte flipped must fail the trailer checksum.
        if (size > 0 && ctx.payloadMode === 'STREAMING-UNSIGNED-TRAILER') {
          const corrupted = Buffer.from(c.body);
          const firstLineEnd = corrupted.indexOf('\r\n');
          corrupted[firstLineEnd + 2] = corrupted[firstLineEnd + 2]! ^ 0xff;
          const bad = verifyPayload(pieces(corrupted, [4096]), ctx, c.headers);
          expect((await failure(bad)).code).toBe('BadDigest');
        }
      }
    }
  });

  it('decodes an UploadPart stream body', async () => {
    const data = randomBytes(20_000);
    const before = server.requests.length;
    await client.send(
      new UploadPartCommand({
        Bucket: 'bkt',
        Key: 'mp',
        UploadId: 'u1',
        PartNumber: 2,
        Body: Readable.from([data]),
        ContentLength: data.length,
      }),
    );
    const c = server.requests[before]!;
    const ctx = authenticate(
      { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery, headers: c.headers },
      secrets,
      {
        region: 'us-east-1',
        now: new Date(),
      },
    );
    const v = verifyPayload(pieces(c.body, [777]), ctx, c.headers);
    expect((await drain(v)).equals(data)).toBe(true);
  });
});
