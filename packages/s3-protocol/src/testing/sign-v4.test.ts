import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../auth/authenticate.ts';
import { verifyPayload } from '../payload/verify-payload.ts';
import { encodeAwsChunked, pieces } from './aws-chunked-encoder.ts';
import { signV4 } from './sign-v4.ts';

describe('test signer + encoder round trip', () => {
  it('produces a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER request the verifier accepts', async () => {
    const data = randomBytes(30_000);
    const { headers, signing } = signV4({
      method: 'PUT',
      rawPath: '/bkt/a%20key',
      rawQuery: 'x-id=PutObject',
      headers: {
        host: '127.0.0.1:9000',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      region: 'us-east-1',
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    });
    const ctx = authenticate(
      { method: 'PUT', rawPath: '/bkt/a%20key', rawQuery: 'x-id=PutObject', headers },
      () => 'SK',
      {
        region: 'us-east-1',
        now: new Date(),
      },
    );
    expect(ctx.payloadMode).toBe('STREAMING-SIGNED-TRAILER');
    const { hashBytes, toBase64 } = await import('../checksums/hashers.ts');
    const body = encodeAwsChunked(data, {
      chunkSizes: [8192, 8192],
      signing,
      trailers: [['x-amz-checksum-crc32', toBase64(hashBytes('CRC32', data))]],
      signTrailer: true,
    });
    const v = verifyPayload(pieces(body, [1000]), ctx, headers);
    const out: Buffer[] = [];
    for await (const c of v.body) out.push(Buffer.from(c));
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});
