// Write headers the gateway must not ignore: ACLs (disabled, as on S3 by default) and the 2 KB
// user-metadata limit counted in UTF-8 bytes as S3 counts it.
import { connect } from 'node:net';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

/** The text of a `=?UTF-8?B?...?=` value (how S3 returns non-ASCII user metadata). */
const unword = (s: string): string => {
  const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/.exec(s);
  if (!m) throw new Error(`not an RFC 2047 UTF-8 B word: ${s}`);
  return Buffer.from(m[1] as string, 'base64').toString('utf8');
};

describe('write headers', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'hdrs';

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('PutObject: private and bucket-owner-full-control pass, other ACLs are 400 AccessControlListNotSupported', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x', ACL: 'private' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x', ACL: 'bucket-owner-full-control' }));
    for (const ACL of ['public-read', 'authenticated-read'] as const) {
      const err = await s3ErrorOf(
        s3.send(new PutObjectCommand({ Bucket, Key: `acl-${ACL}`, Body: 'x', ACL })),
      );
      expect(err.name).toBe('AccessControlListNotSupported');
      expect(err.$metadata.httpStatusCode).toBe(400);
      await expect(s3.send(new HeadObjectCommand({ Bucket, Key: `acl-${ACL}` }))).rejects.toThrow();
    }
    const grant = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'g', Body: 'x', GrantRead: 'id="someone-else"' })),
    );
    expect(grant.name).toBe('AccessControlListNotSupported');
  });

  it('CreateMultipartUpload refuses a public ACL the same way', async () => {
    const err = await s3ErrorOf(
      s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ACL: 'public-read-write' })),
    );
    expect(err.name).toBe('AccessControlListNotSupported');
  });

  it('CreateBucket: private passes, a public ACL is 400 InvalidBucketAclWithObjectOwnership', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'acl-private', ACL: 'private' }));
    const err = await s3ErrorOf(
      s3.send(new CreateBucketCommand({ Bucket: 'acl-public', ACL: 'public-read' })),
    );
    expect(err.name).toBe('InvalidBucketAclWithObjectOwnership');
    expect(err.$metadata.httpStatusCode).toBe(400);
    await expect(s3.send(new HeadBucketCommand({ Bucket: 'acl-public' }))).rejects.toThrow();
    const ownership = await s3ErrorOf(
      s3.send(new CreateBucketCommand({ Bucket: 'acl-writer', ObjectOwnership: 'ObjectWriter' })),
    );
    expect(ownership.$metadata.httpStatusCode).toBe(501);
    await s3.send(
      new CreateBucketCommand({ Bucket: 'acl-enforced', ObjectOwnership: 'BucketOwnerEnforced' }),
    );
  });

  it('user metadata: 2048 UTF-8 bytes of names + values pass (multi-byte characters counted once), 2049 do not', async () => {
    // name "k" (1 byte) + 682 × "€" (3 bytes each) + "x" = 2048 bytes. Sent as raw UTF-8 bytes on a
    // presigned PUT (SDKs sign header strings as UTF-8, node sends them as latin1: they cannot).
    const value = `${'€'.repeat(682)}x`;
    expect(Buffer.byteLength(`k${value}`, 'utf8')).toBe(2048);
    const putWithMeta = async (Key: string, v: string): Promise<{ status: number; body: string }> => {
      const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key }), { expiresIn: 300 }));
      // A raw socket: node's http client would re-encode the header value.
      const head = `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n`;
      const request = Buffer.concat([
        Buffer.from(`${head}Content-Length: 1\r\nConnection: close\r\nx-amz-meta-k: `),
        Buffer.from(v, 'utf8'),
        Buffer.from('\r\n\r\nx'),
      ]);
      const response = await new Promise<string>((resolve, reject) => {
        const parts: Buffer[] = [];
        const socket = connect(gw.port, '127.0.0.1', () => socket.write(request));
        socket.on('data', (d: Buffer) => parts.push(d));
        socket.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        socket.on('error', reject);
      });
      return { status: Number(response.split(' ', 2)[1]), body: response };
    };
    expect((await putWithMeta('meta', value)).status).toBe(200);
    const got = await s3.send(new HeadObjectCommand({ Bucket, Key: 'meta' }));
    expect(unword(got.Metadata?.k ?? '')).toBe(value);
    const tooLarge = await putWithMeta('meta2', `${value}y`);
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body).toContain('<Code>MetadataTooLarge</Code>');
  });
});
