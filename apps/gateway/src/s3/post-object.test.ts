// POST Object with the SDK's createPresignedPost and fetch's FormData (what a browser page does):
// the policy bounds key, fields and size; the form needs no other signature.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  minioClient,
  pattern,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'forms';
const FILENAME_KEY = 'uploads/$' + '{filename}';

describe('POST Object (browser form uploads)', () => {
  let gw: TestGateway;
  let s3: S3Client;

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  async function post(
    presigned: { url: string; fields: Record<string, string> },
    file: Buffer,
    change: (form: FormData) => void = () => {},
    filename = 'photo.jpg',
  ): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
    change(form);
    form.append('file', new Blob([file], { type: 'image/jpeg' }), filename);
    return fetch(presigned.url, { method: 'POST', body: form });
  }

  async function bytesOf(Key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  it('stores the file under the signed key with the signed fields, streamed (3 MiB)', async () => {
    const file = pattern(3 * 1024 * 1024 + 11, 5);
    const presigned = await createPresignedPost(s3, {
      Bucket,
      Key: 'form/one.bin',
      Fields: { 'Content-Type': 'application/x-thing', 'x-amz-meta-origin': 'page' },
      Conditions: [['content-length-range', 0, 10 * 1024 * 1024]],
      Expires: 300,
    });
    const res = await post(presigned, file);
    expect(res.status).toBe(204);
    const md5 = createHash('md5').update(file).digest('hex');
    expect(res.headers.get('etag')).toBe(`"${md5}"`);
    expect((await bytesOf('form/one.bin')).equals(file)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'form/one.bin' }));
    expect(head.ContentType).toBe('application/x-thing');
    expect(head.Metadata).toEqual({ origin: 'page' });
  });

  it('fills the file name into the key and answers 201 with a PostResponse when asked', async () => {
    const presigned = await createPresignedPost(s3, {
      Bucket,
      Key: FILENAME_KEY,
      Conditions: [['starts-with', '$key', 'uploads/'], { success_action_status: '201' }],
      Fields: { success_action_status: '201' },
    });
    const res = await post(presigned, Buffer.from('cat picture'), undefined, 'cat.jpg');
    expect(res.status).toBe(201);
    const xml = await res.text();
    expect(xml).toContain('<Key>uploads/cat.jpg</Key>');
    expect(xml).toContain(`<Bucket>${Bucket}</Bucket>`);
    expect((await bytesOf('uploads/cat.jpg')).toString()).toBe('cat picture');
  });

  it('answers Expect: 100-continue before the body, as curl -F sends it', async () => {
    const presigned = await createPresignedPost(s3, { Bucket, Key: 'form/continued.bin' });
    const form = new FormData();
    for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
    form.append('file', new Blob([pattern(200_000, 9)]), 'continued.bin');
    const encoded = new Response(form);
    const body = Buffer.from(await encoded.arrayBuffer());
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(presigned.url, {
        method: 'POST',
        headers: {
          'content-type': encoded.headers.get('content-type') ?? '',
          'content-length': body.length,
          expect: '100-continue',
        },
      });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    expect(status).toBe(204);
    expect((await bytesOf('form/continued.bin')).equals(pattern(200_000, 9))).toBe(true);
  });

  it("the minio client's presignedPostPolicy (an independent signer) uploads too", async () => {
    const mc = minioClient(gw);
    const policy = mc.newPostPolicy();
    policy.setBucket(Bucket);
    policy.setKey('form/minio.txt');
    policy.setExpires(new Date(Date.now() + 5 * 60_000));
    policy.setContentType('text/plain');
    policy.setContentLengthRange(1, 1024);
    const { postURL, formData } = await mc.presignedPostPolicy(policy);
    const res = await post({ url: postURL, fields: formData }, Buffer.from('from minio'));
    expect(res.status).toBe(204);
    expect((await bytesOf('form/minio.txt')).toString()).toBe('from minio');
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'form/minio.txt' }));
    expect(head.ContentType).toBe('text/plain');
  });

  it('refuses what the policy does not allow, and stores nothing', async () => {
    const presigned = await createPresignedPost(s3, {
      Bucket,
      Key: 'form/small.bin',
      Conditions: [['content-length-range', 1, 100]],
    });
    const tooBig = await post(presigned, pattern(101, 1));
    expect(tooBig.status).toBe(400);
    expect(await tooBig.text()).toContain('<Code>EntityTooLarge</Code>');
    const empty = await post(presigned, Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('<Code>EntityTooSmall</Code>');

    const otherKey = await post(presigned, Buffer.from('x'), (form) => form.set('key', 'form/elsewhere.bin'));
    expect(otherKey.status).toBe(403);
    expect(await otherKey.text()).toContain('Policy Condition failed');
    const extra = await post(presigned, Buffer.from('x'), (form) => form.append('x-amz-meta-sneaky', 'yes'));
    expect(extra.status).toBe(403);
    expect(await extra.text()).toContain('Extra input fields: x-amz-meta-sneaky');
    const forged = await post(presigned, Buffer.from('x'), (form) =>
      form.set('X-Amz-Signature', '0'.repeat(64)),
    );
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const anonymous = new FormData();
    anonymous.append('key', 'form/anon.bin');
    anonymous.append('file', new Blob(['x']), 'x');
    const anon = await fetch(presigned.url, { method: 'POST', body: anonymous });
    expect(anon.status).toBe(403);

    for (const Key of ['form/small.bin', 'form/elsewhere.bin', 'form/anon.bin']) {
      expect(
        (await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key })))).$metadata.httpStatusCode,
      ).toBe(404);
    }
  });
});
