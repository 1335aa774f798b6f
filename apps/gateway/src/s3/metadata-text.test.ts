// Non-ASCII user metadata, as S3 handles it: the value is stored as the text the client sent and
// GET/HEAD return it RFC 2047-encoded (`=?UTF-8?B?<base64 of UTF-8>?=`); printable ASCII values,
// including ones the client encoded itself, come back exactly as sent.
// Clients (measured): the JS SDK sends text up to U+00FF as UTF-8 bytes when the body is a string
// and as latin1 bytes otherwise (node writes the header block with the first body chunk's
// encoding), signing the UTF-8 either way; beyond U+00FF node throws before sending. botocore
// (aws-cli) refuses non-ASCII metadata before sending. A raw client sends and signs UTF-8 bytes.
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { signV4 } from '@blobcache/s3-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CREDENTIAL } from '../config.ts';
import {
  rawRequest,
  signedUtf8Request,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const word = (text: string): string => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

describe('non-ASCII user metadata', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'meta-text';

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  const signedRaw = (method: string, path: string, headers: Record<string, string>, body = '') =>
    signedUtf8Request(gw.port, method, path, headers, body);

  it('SDK PutObject: latin1-range text is returned RFC 2047-encoded, ASCII and pre-encoded values as sent', async () => {
    const Metadata = { accent: 'café crème', plain: 'just ascii', encoded: '=?UTF-8?B?w6k=?=' };
    // A string body: node sends the headers as UTF-8; a Buffer body: as latin1. Both sign UTF-8.
    for (const [Key, Body] of [
      ['string-body', 'x'],
      ['buffer-body', Buffer.from('x')],
    ] as const) {
      await s3.send(new PutObjectCommand({ Bucket, Key, Body, Metadata }));
      const want = { accent: word('café crème'), plain: 'just ascii', encoded: '=?UTF-8?B?w6k=?=' };
      expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).Metadata, Key).toEqual(want);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      expect(got.Metadata, Key).toEqual(want);
      expect(await got.Body!.transformToString()).toBe('x');
    }
  });

  it('raw UTF-8 bytes in a signed x-amz-meta-* header: stored as their text, returned RFC 2047-encoded', async () => {
    const text = '日本語 – naïve €';
    const put = await signedRaw(
      'PUT',
      `/${Bucket}/raw`,
      { 'x-amz-meta-title': text, 'x-amz-meta-ok': 'fine' },
      'b',
    );
    expect(put.status, put.body.toString()).toBe(200);
    const head = await signedRaw('HEAD', `/${Bucket}/raw`, {});
    expect(head.status).toBe(200);
    expect(head.headers['x-amz-meta-title']).toBe(word(text));
    expect(head.headers['x-amz-meta-ok']).toBe('fine');
    const sdk = await s3.send(new HeadObjectCommand({ Bucket, Key: 'raw' }));
    expect(sdk.Metadata).toEqual({ title: word(text), ok: 'fine' });
    // A value signed over other bytes than the ones sent is refused, as any tampered header.
    const signed = signV4({
      method: 'PUT',
      rawPath: `/${Bucket}/tampered`,
      rawQuery: '',
      headers: { host: `127.0.0.1:${gw.port}`, 'x-amz-meta-title': 'other' },
      accessKeyId: DEV_CREDENTIAL.accessKeyId,
      secretAccessKey: DEV_CREDENTIAL.secretAccessKey,
      region: 'us-east-1',
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const tampered = await rawRequest(gw.port, {
      method: 'PUT',
      path: `/${Bucket}/tampered`,
      headers: { ...signed.headers, 'x-amz-meta-title': Buffer.from(text).toString('latin1') },
      body: Buffer.from('b'),
    });
    expect(tampered.status).toBe(403);
    expect(tampered.body.toString()).toContain('SignatureDoesNotMatch');
  });

  it('multipart: metadata given at CreateMultipartUpload (a bodiless request: latin1 on the wire) is the object’s', async () => {
    const Key = 'mp';
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key, Metadata: { who: 'Zoë' } }),
    );
    const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'p' }));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).Metadata).toEqual({ who: word('Zoë') });
  });

  it('CopyObject REPLACE stores the new non-ASCII metadata; COPY keeps the source text', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'c', Metadata: { from: 'señor' } }));
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'copied', CopySource: `${Bucket}/src` }));
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'copied' }))).Metadata).toEqual({
      from: word('señor'),
    });
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'replaced',
        CopySource: `${Bucket}/src`,
        MetadataDirective: 'REPLACE',
        Metadata: { to: 'façade' },
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'replaced' }))).Metadata).toEqual({
      to: word('façade'),
    });
    // A raw copy with UTF-8 bytes beyond latin1 (which the SDK cannot send).
    const copy = await signedRaw('PUT', `/${Bucket}/raw-copy`, {
      'x-amz-copy-source': `/${Bucket}/src`,
      'x-amz-metadata-directive': 'REPLACE',
      'x-amz-meta-to': '東京',
    });
    expect(copy.status, copy.body.toString()).toBe(200);
    const head = await signedRaw('HEAD', `/${Bucket}/raw-copy`, {});
    expect(head.headers['x-amz-meta-to']).toBe(word('東京'));
  });

  it('response-* overrides with non-ASCII text come back as its UTF-8 bytes; a control character is 400', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'dl', Body: 'd' }));
    const ResponseContentDisposition = 'attachment; filename="日本.txt"';
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dl', ResponseContentDisposition }));
    // node's client hands header bytes over as latin1 text.
    expect(Buffer.from(got.ContentDisposition ?? '', 'latin1').toString('utf8')).toBe(
      ResponseContentDisposition,
    );
    expect(await got.Body!.transformToString()).toBe('d');
    const url = new URL(
      await getSignedUrl(
        s3,
        new GetObjectCommand({ Bucket, Key: 'dl', ResponseContentType: 'text/plain\nx: y' }),
      ),
    );
    const bad = await rawRequest(gw.port, { method: 'GET', path: `${url.pathname}${url.search}` });
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toContain('<Code>InvalidArgument</Code>');
    expect(bad.headers.x).toBeUndefined();
  });
});
