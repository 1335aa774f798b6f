import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  minioClient,
  pattern,
  rawRequest,
  s3Client,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const md5hex = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

describe('object operations', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'objects';

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('PUT/GET/HEAD round-trip a buffer body; the ETag is the quoted MD5', async () => {
    const body = pattern(3 * 1024 * 1024 + 17);
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'buf', Body: body }));
    expect(put.ETag).toBe(`"${md5hex(body)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'buf' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ETag).toBe(put.ETag);
    expect(got.ContentLength).toBe(body.length);
    expect(got.ContentType).toBe('application/octet-stream'); // what the SDK sent
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'buf' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.LastModified).toBeInstanceOf(Date);
  });

  it('accepts aws-chunked stream bodies with a trailing CRC32 (SDK default for Node streams)', async () => {
    const body = pattern(700_000, 7);
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'stream',
        Body: Readable.from([body.subarray(0, 5), body.subarray(5)]),
        ContentLength: body.length,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'stream', ChecksumMode: 'ENABLED' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ChecksumCRC32).toBeDefined();
  });

  it('stores an empty object', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '' }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
    expect((await got.Body!.transformToByteArray()).length).toBe(0);
    expect(got.ETag).toBe(`"${md5hex('')}"`);
  });

  it('round-trips user metadata and standard headers; response-* overrides apply', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'meta',
        Body: 'm',
        ContentType: 'text/plain',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="m.txt"',
        ContentLanguage: 'en',
        ContentEncoding: 'identity',
        Expires: new Date('2030-01-01T00:00:00Z'),
        Metadata: { Color: 'blue', 'two-words': 'a b' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'meta' }));
    expect(head.Metadata).toEqual({ color: 'blue', 'two-words': 'a b' });
    expect(head.ContentType).toBe('text/plain');
    expect(head.CacheControl).toBe('max-age=60');
    expect(head.ContentDisposition).toBe('attachment; filename="m.txt"');
    expect(head.ContentLanguage).toBe('en');
    expect(head.ContentEncoding).toBe('identity');
    expect(head.ExpiresString ?? head.Expires?.toUTCString()).toContain('2030');
    const got = await s3.send(
      new GetObjectCommand({
        Bucket,
        Key: 'meta',
        ResponseContentType: 'application/json',
        ResponseCacheControl: 'no-cache',
      }),
    );
    expect(got.ContentType).toBe('application/json');
    expect(got.CacheControl).toBe('no-cache');
    await got.Body!.transformToByteArray();
  });

  it('refuses (501) write headers for features it does not have instead of ignoring them', async () => {
    const locked = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'locked', Body: 'x', ObjectLockLegalHoldStatus: 'ON' })),
    );
    expect(locked.$metadata.httpStatusCode).toBe(501);
    expect(locked.name).toBe('NotImplemented');
    const redirect = await s3ErrorOf(
      s3.send(
        new PutObjectCommand({ Bucket, Key: 'redirect', Body: 'x', WebsiteRedirectLocation: '/elsewhere' }),
      ),
    );
    expect(redirect.name).toBe('NotImplemented');
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'locked' }))).rejects.toThrow();
  });

  it('rejects user metadata over 2 KB', async () => {
    const err = await s3ErrorOf(
      s3.send(
        new PutObjectCommand({ Bucket, Key: 'bigmeta', Body: 'x', Metadata: { big: 'v'.repeat(2100) } }),
      ),
    );
    expect(err.name).toBe('MetadataTooLarge');
  });

  it('GET/HEAD of a missing key: NoSuchKey / bodiless 404; missing bucket: NoSuchBucket', async () => {
    expect((await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'nope' })))).name).toBe('NoSuchKey');
    const head = await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'nope' })));
    expect(head.$metadata.httpStatusCode).toBe(404);
    expect(head.name).toBe('NotFound');
    expect((await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket: 'no-bucket', Key: 'k' })))).name).toBe(
      'NoSuchBucket',
    );
    expect(
      (await s3ErrorOf(s3.send(new PutObjectCommand({ Bucket: 'no-bucket', Key: 'k', Body: 'x' })))).name,
    ).toBe('NoSuchBucket');
  });

  it('serves single ranges: bounded, open-ended, suffix, clamped; 416 with Content-Range bytes */N', async () => {
    const body = pattern(2 * 1024 * 1024 + 100, 3);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'range', Body: body }));
    const get = async (Range: string) => {
      const r = await s3.send(new GetObjectCommand({ Bucket, Key: 'range', Range, ChecksumMode: 'ENABLED' }));
      return { r, bytes: Buffer.from(await r.Body!.transformToByteArray()) };
    };
    const a = await get('bytes=10-19');
    expect(a.bytes.equals(body.subarray(10, 20))).toBe(true);
    expect(a.r.ContentRange).toBe(`bytes 10-19/${body.length}`);
    expect(a.r.ChecksumCRC32).toBeUndefined();
    expect(a.r.ChecksumCRC64NVME).toBeUndefined();
    const b = await get(`bytes=${1024 * 1024 - 5}-`);
    expect(b.bytes.equals(body.subarray(1024 * 1024 - 5))).toBe(true);
    const c = await get('bytes=-50');
    expect(c.bytes.equals(body.subarray(body.length - 50))).toBe(true);
    const d = await get(`bytes=${body.length - 10}-${body.length + 1000}`);
    expect(d.bytes.equals(body.subarray(body.length - 10))).toBe(true);
    const bad = await s3ErrorOf(
      s3.send(new GetObjectCommand({ Bucket, Key: 'range', Range: `bytes=${body.length}-` })),
    );
    expect(bad.name).toBe('InvalidRange');
    expect(bad.$metadata.httpStatusCode).toBe(416);
    const raw = await rawGet(gw, s3, 'range', { range: `bytes=${body.length + 5}-` });
    expect(raw.status).toBe(416);
    expect(raw.headers['content-range']).toBe(`bytes */${body.length}`);
  });

  it('ignores an unparsable Range header (200, whole body)', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'r2', Body: 'abcdef' }));
    const r = await s3.send(new GetObjectCommand({ Bucket, Key: 'r2', Range: 'bytes=zz' }));
    expect(r.$metadata.httpStatusCode).toBe(200);
    expect(await r.Body!.transformToString()).toBe('abcdef');
  });

  it('conditional GET/HEAD: If-Match 412, If-None-Match 304, dates', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'cond', Body: 'c' }));
    const ok = await s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: put.ETag }));
    await ok.Body!.transformToString();
    expect(
      (await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfMatch: '"nope"' })))).$metadata
        .httpStatusCode,
    ).toBe(412);
    expect(
      (await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'cond', IfNoneMatch: put.ETag }))))
        .$metadata.httpStatusCode,
    ).toBe(304);
    const future = new Date(Date.now() + 3600_000);
    expect(
      (await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfModifiedSince: future }))))
        .$metadata.httpStatusCode,
    ).toBe(304);
    const past = new Date(Date.now() - 3600_000);
    expect(
      (await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'cond', IfUnmodifiedSince: past }))))
        .$metadata.httpStatusCode,
    ).toBe(412);
  });

  it('conditional PUT: If-None-Match: * refuses to overwrite; If-Match needs the current ETag', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'cput', Body: 'one', IfNoneMatch: '*' }));
    const dup = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'cput', Body: 'two', IfNoneMatch: '*' })),
    );
    expect(dup.$metadata.httpStatusCode).toBe(412);
    const wrong = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'cput', Body: 'two', IfMatch: '"abc"' })),
    );
    expect(wrong.$metadata.httpStatusCode).toBe(412);
    await s3.send(
      new PutObjectCommand({ Bucket, Key: 'cput', Body: 'three', IfMatch: `"${md5hex('one')}"` }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'cput' }));
    expect(await got.Body!.transformToString()).toBe('three');
  });

  it('Content-MD5: bad base64 → InvalidDigest, mismatch → BadDigest, match stores', async () => {
    const invalid = await rawPut(gw, s3, 'md5', 'hello', { 'content-md5': 'not-base64!' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.toString()).toContain('InvalidDigest');
    const mismatch = await s3ErrorOf(
      s3.send(
        new PutObjectCommand({
          Bucket,
          Key: 'md5',
          Body: 'hello',
          ContentMD5: createHash('md5').update('other').digest('base64'),
        }),
      ),
    );
    expect(mismatch.name).toBe('BadDigest');
    expect(
      (await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'md5' })))).$metadata.httpStatusCode,
    ).toBe(404);
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'md5',
        Body: 'hello',
        ContentMD5: createHash('md5').update('hello').digest('base64'),
      }),
    );
  });

  it('verifies and returns flexible checksums only with x-amz-checksum-mode: ENABLED', async () => {
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const Key = `ck-${alg}`;
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: `data for ${alg}`, ChecksumAlgorithm: alg }));
      const plain = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      expect(plain[`Checksum${alg}`]).toBeUndefined();
      const asked = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      expect(asked[`Checksum${alg}`]).toBeTruthy();
      const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
      expect(await got.Body!.transformToString()).toBe(`data for ${alg}`);
    }
    const wrong = await rawPut(gw, s3, 'ck-wrong', 'abc', { 'x-amz-checksum-crc32': 'AAAAAA==' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.toString()).toContain('BadDigest');
  });

  it('stores a CRC64NVME for objects uploaded without a checksum', async () => {
    const s3Plain = s3Client(gw, { requestChecksumCalculation: 'WHEN_REQUIRED' });
    await s3Plain.send(new PutObjectCommand({ Bucket, Key: 'nock', Body: 'no checksum' }));
    const head = await s3Plain.send(new HeadObjectCommand({ Bucket, Key: 'nock', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC64NVME).toBeTruthy();
    s3Plain.destroy();
  });

  it('keys with +, %, //, ../, spaces, unicode and control characters round-trip; 1024-byte keys work', async () => {
    const keys = [
      'a+b',
      '100%',
      '//lead',
      'x/../y',
      './dot',
      'sp ace',
      'tab\there',
      'ctl\u0001',
      'ünï/ç😀',
      'q?x#y',
      'trail/',
    ];
    keys.push('k'.repeat(1024));
    for (const Key of keys) {
      await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      expect(await got.Body!.transformToString()).toBe(Key);
    }
    const tooLong = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'k'.repeat(1025), Body: 'x' })),
    );
    expect(tooLong.name).toBe('KeyTooLongError');
  });

  it('raw paths are never normalised: /bucket/a/../b names the key "a/../b"', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a/../b', Body: 'dotdot' }));
    const other = await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'b' })));
    expect(other.$metadata.httpStatusCode).toBe(404);
  });

  it('DeleteObject is idempotent; DeleteObjects reports per key, quiet mode, needs an integrity header', async () => {
    for (const Key of ['d1', 'd2', 'd3']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'd1' }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'd1' }));
    const res = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'd2' }, { Key: 'missing' }] } }),
    );
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['d2', 'missing']);
    const quiet = await s3.send(
      new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'd3' }], Quiet: true } }),
    );
    expect(quiet.Deleted ?? []).toEqual([]);
    expect(
      (await s3ErrorOf(s3.send(new HeadObjectCommand({ Bucket, Key: 'd3' })))).$metadata.httpStatusCode,
    ).toBe(404);
  });

  it('presigned GET and PUT URLs work with plain fetch; expired ones are refused', async () => {
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'presigned' }), {
      expiresIn: 60,
    });
    const put = await fetch(putUrl, { method: 'PUT', body: 'via presign' });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned' }), {
      expiresIn: 60,
    });
    const got = await fetch(getUrl);
    expect(await got.text()).toBe('via presign');
    const old = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'presigned' }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 3600_000),
    });
    const expired = await fetch(old);
    expect(expired.status).toBe(403);
  });

  it('the minio client (an independent signer) can put, stat, get and remove', async () => {
    const mc = minioClient(gw);
    const body = pattern(300_000, 9);
    await mc.putObject(Bucket, 'minio/obj', body, body.length, { 'Content-Type': 'application/x-test' });
    const stat = await mc.statObject(Bucket, 'minio/obj');
    expect(stat.size).toBe(body.length);
    const stream = await mc.getObject(Bucket, 'minio/obj');
    const parts: Buffer[] = [];
    for await (const p of stream) parts.push(p as Buffer);
    expect(Buffer.concat(parts).equals(body)).toBe(true);
    await mc.removeObject(Bucket, 'minio/obj');
  });

  it('rejects a wrong secret and an unknown key id', async () => {
    const bad = s3Client(gw, { credentials: { accessKeyId: 'blobcache', secretAccessKey: 'wrong' } });
    expect(
      (await s3ErrorOf(bad.send(new HeadObjectCommand({ Bucket, Key: 'buf' })))).$metadata.httpStatusCode,
    ).toBe(403);
    expect((await s3ErrorOf(bad.send(new GetObjectCommand({ Bucket, Key: 'buf' })))).name).toBe(
      'SignatureDoesNotMatch',
    );
    bad.destroy();
    const unknown = s3Client(gw, { credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
    expect((await s3ErrorOf(unknown.send(new GetObjectCommand({ Bucket, Key: 'buf' })))).name).toBe(
      'InvalidAccessKeyId',
    );
    unknown.destroy();
  });

  it('a GET that started before an overwrite returns the whole old object (atomic overwrite)', async () => {
    const oldBody = pattern(5 * 1024 * 1024, 11);
    const newBody = pattern(3 * 1024 * 1024, 12);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'atomic', Body: oldBody }));
    const url = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'atomic' }), { expiresIn: 60 }),
    );
    const received = await new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: gw.port, path: url.pathname + url.search },
        (res) => {
          const parts: Buffer[] = [];
          let overwritten = false;
          res.on('data', (d: Buffer) => {
            parts.push(d);
            if (!overwritten) {
              overwritten = true;
              // Stop reading, overwrite the object completely, then read the rest.
              res.pause();
              s3.send(new PutObjectCommand({ Bucket, Key: 'atomic', Body: newBody })).then(
                () => res.resume(),
                reject,
              );
            }
          });
          res.on('end', () => resolve(Buffer.concat(parts)));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(received.equals(oldBody)).toBe(true);
    const now = await s3.send(new GetObjectCommand({ Bucket, Key: 'atomic' }));
    expect(Buffer.from(await now.Body!.transformToByteArray()).equals(newBody)).toBe(true);
  });

  it('a range on an empty object is 416; versionId=null names the current object, others NoSuchVersion', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'empty-range', Body: '' }));
    const r = await s3ErrorOf(
      s3.send(new GetObjectCommand({ Bucket, Key: 'empty-range', Range: 'bytes=0-' })),
    );
    expect(r.$metadata.httpStatusCode).toBe(416);
    const v = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty-range', VersionId: 'null' }));
    expect((await v.Body!.transformToByteArray()).length).toBe(0);
    const other = await s3ErrorOf(
      s3.send(new GetObjectCommand({ Bucket, Key: 'empty-range', VersionId: 'abc' })),
    );
    expect(other.name).toBe('NoSuchVersion');
  });

  it('concurrent conditional PUTs with If-None-Match: * — exactly one wins', async () => {
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((n) =>
        s3.send(new PutObjectCommand({ Bucket, Key: 'race', Body: `writer ${n}`, IfNoneMatch: '*' })),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    for (const r of results) {
      if (r.status === 'rejected')
        expect((r.reason as S3ServiceException).$metadata.httpStatusCode).toBe(412);
    }
  });

  it('DeleteObjects without Content-MD5 or a checksum header is refused', async () => {
    const bare = s3Client(gw);
    // Drop the integrity headers the SDK adds, before it signs.
    bare.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        for (const name of Object.keys(headers)) {
          if (/^(content-md5|x-amz-checksum-|x-amz-sdk-checksum-algorithm)/i.test(name)) delete headers[name];
        }
        return next(args);
      },
      { step: 'build', priority: 'low', name: 'dropIntegrityHeaders' },
    );
    const err = await s3ErrorOf(
      bare.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'x' }] } })),
    );
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.name).toBe('InvalidRequest');
    bare.destroy();
  });
});

/** Signs a request with the SDK (presigned URL) and sends it raw, with extra unsigned headers. */
async function rawGet(gw: TestGateway, s3: S3Client, key: string, headers: Record<string, string>) {
  const url = new URL(
    await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'objects', Key: key }), { expiresIn: 60 }),
  );
  return rawRequest(gw.port, { method: 'GET', path: url.pathname + url.search, headers });
}

async function rawPut(
  gw: TestGateway,
  s3: S3Client,
  key: string,
  body: string,
  headers: Record<string, string>,
) {
  const url = new URL(
    await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'objects', Key: key }), { expiresIn: 60 }),
  );
  return rawRequest(gw.port, {
    method: 'PUT',
    path: url.pathname + url.search,
    headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    body,
  });
}
