import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { compositeChecksum, hashBytes, toBase64 } from '@blobcache/s3-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pattern,
  rawRequest,
  s3ErrorOf,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const MiB = 1024 * 1024;

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();

function multipartEtag(parts: Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(md5(p));
  return `"${h.digest('hex')}-${parts.length}"`;
}

function completeXml(parts: Array<{ n: number; etag: string }>, ns = true): string {
  const open = ns
    ? '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    : '<CompleteMultipartUpload>';
  return `${open}${parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

describe('multipart uploads', () => {
  let gw: TestGateway;
  let s3: S3Client;
  const Bucket = 'mpu';
  const big1 = pattern(5 * MiB, 1);
  const big2 = pattern(5 * MiB, 2);
  const tail = pattern(1234, 3);

  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  async function upload(Key: string, bodies: Buffer[], extra: Record<string, unknown> = {}) {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ...extra }));
    const parts = [];
    for (const [i, Body] of bodies.entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
    }
    return { UploadId: UploadId as string, parts };
  }

  it('create → parts → list → complete: "-N" ETag, metadata kept, bytes and part reads exact', async () => {
    const Key = 'dir/obj one';
    const { UploadId, parts } = await upload(Key, [big1, big2, tail], {
      ContentType: 'text/x-test',
      Metadata: { color: 'blue' },
      CacheControl: 'max-age=5',
    });
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2 }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 5 * MiB, `"${md5(big1).toString('hex')}"`],
      [2, 5 * MiB, `"${md5(big2).toString('hex')}"`],
    ]);
    expect(listed.IsTruncated).toBe(true);
    expect(listed.NextPartNumberMarker).toBe('2');
    const rest = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, PartNumberMarker: '2' }));
    expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3]);
    expect(rest.IsTruncated).toBe(false);

    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    expect(done.ETag).toBe(multipartEtag([big1, big2, tail]));
    expect(done.Key).toBe(Key);

    const whole = Buffer.concat([big1, big2, tail]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    // The SDK validates the FULL_OBJECT CRC64NVME combined from the part CRCs.
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(whole)).toBe(true);
    expect(got.ETag).toBe(done.ETag);
    expect(got.ContentType).toBe('text/x-test');
    expect(got.Metadata).toEqual({ color: 'blue' });
    expect(got.CacheControl).toBe('max-age=5');
    expect(got.ChecksumCRC64NVME).toBe(toBase64(hashBytes('CRC64NVME', whole)));
    expect(got.PartsCount).toBe(3);

    const head2 = await s3.send(new HeadObjectCommand({ Bucket, Key, PartNumber: 2 }));
    expect(head2.ContentLength).toBe(5 * MiB);
    expect(head2.PartsCount).toBe(3);
    expect(head2.ContentRange).toBe(`bytes ${5 * MiB}-${10 * MiB - 1}/${whole.length}`);
    const part3 = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 3 }));
    expect(part3.$metadata.httpStatusCode).toBe(206);
    expect(Buffer.from(await part3.Body!.transformToByteArray()).equals(tail)).toBe(true);
    const beyond = await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 4 })));
    expect(beyond.name).toBe('InvalidPart');

    // The upload is gone once completed.
    const gone = await s3ErrorOf(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })));
    expect(gone.name).toBe('NoSuchUpload');
  });

  it('a retried CompleteMultipartUpload (first answer lost) gets the same result while the object is that upload, as on S3', async () => {
    const Key = 'retried-complete';
    const { UploadId, parts } = await upload(Key, [big1, tail]);
    const complete = () =>
      s3.send(
        new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
    // Two at once (the retry racing the first attempt), then one more afterwards.
    const [first, racing] = await Promise.all([complete(), complete()]);
    const again = await complete();
    expect(first.ETag).toBe(multipartEtag([big1, tail]));
    expect(racing.ETag).toBe(first.ETag);
    expect(again.ETag).toBe(first.ETag);
    expect(again.Key).toBe(Key);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([big1, tail]))).toBe(
      true,
    );

    // A different part list is not a retry of that completion.
    const fewer = await s3ErrorOf(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: [parts[0]!] },
        }),
      ),
    );
    expect(fewer.name).toBe('NoSuchUpload');
    // Once the key holds another object, the upload is simply gone.
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'newer' }));
    expect((await s3ErrorOf(complete())).name).toBe('NoSuchUpload');
  });

  it('raw wire: `?uploads` without "=" creates an upload; the result is namespaced XML; partNumber reads carry the part headers', async () => {
    const url = new URL(
      await getSignedUrl(s3, new CreateMultipartUploadCommand({ Bucket, Key: 'raw/key' }), { expiresIn: 60 }),
    );
    // `uploads` and `uploads=` have the same canonical query, so the signature still holds.
    const path = `${url.pathname}${url.search.replace('uploads=', 'uploads')}`;
    expect(path).toMatch(/[?&]uploads(&|$)/);
    const res = await rawRequest(gw.port, { method: 'POST', path });
    expect(res.status).toBe(200);
    const xml = res.body.toString();
    expect(xml).toContain('<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">');
    const uploadId = /<UploadId>([0-9a-f]+)<\/UploadId>/.exec(xml)?.[1];
    expect(uploadId).toMatch(/^[0-9a-f]{32}$/);
    const part = pattern(5 * MiB, 31);
    const last = pattern(10, 32);
    const etags = [];
    for (const [i, Body] of [part, last].entries()) {
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key: 'raw/key', UploadId: uploadId, PartNumber: i + 1, Body }),
      );
      etags.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'raw/key',
        UploadId: uploadId,
        MultipartUpload: { Parts: etags },
      }),
    );
    const getUrl = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'raw/key', PartNumber: 2 }), {
        expiresIn: 60,
      }),
    );
    const got = await rawRequest(gw.port, { method: 'GET', path: getUrl.pathname + getUrl.search });
    expect(got.status).toBe(206);
    expect(got.headers['x-amz-mp-parts-count']).toBe('2');
    expect(got.headers['content-range']).toBe(`bytes ${5 * MiB}-${5 * MiB + 9}/${5 * MiB + 10}`);
    expect(got.headers['content-length']).toBe('10');
    expect(got.body.equals(last)).toBe(true);
  });

  it('partNumber=1 of a single-PUT object is the whole object', async () => {
    const body = pattern(4000, 9);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 1 }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const e = await s3ErrorOf(s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 2 })));
    expect(e.$metadata.httpStatusCode).toBe(400);
  });

  it('re-uploading a part replaces it', async () => {
    const Key = 'replace';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: pattern(100, 5) }));
    const second = pattern(200, 6);
    const r = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: second }));
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(listed.Parts?.map((p) => [p.Size, p.ETag])).toEqual([[200, r.ETag]]);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag }] },
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(second)).toBe(true);
  });

  it('refuses bad completions: InvalidPartOrder, InvalidPart, EntityTooSmall, NoSuchUpload; the upload survives them', async () => {
    const Key = 'bad';
    const a = pattern(1000, 1);
    const b = pattern(1000, 2);
    const { UploadId, parts } = await upload(Key, [a, b]);
    const etags = parts.map((p) => p.ETag as string);
    const post = (body: string, uploadId = UploadId) => {
      return s3ErrorOf(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: [...body.matchAll(/<PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag>/g)].map((m) => ({
                PartNumber: Number(m[1]),
                ETag: m[2],
              })),
            },
          }),
        ),
      );
    };
    expect(
      (
        await post(
          completeXml([
            { n: 2, etag: etags[1]! },
            { n: 1, etag: etags[0]! },
          ]),
        )
      ).name,
    ).toBe('InvalidPartOrder');
    expect((await post(completeXml([{ n: 1, etag: '"0123"' }]))).name).toBe('InvalidPart');
    expect(
      (
        await post(
          completeXml([
            { n: 1, etag: etags[0]! },
            { n: 3, etag: etags[0]! },
          ]),
        )
      ).name,
    ).toBe('InvalidPart');
    const small = await post(
      completeXml([
        { n: 1, etag: etags[0]! },
        { n: 2, etag: etags[1]! },
      ]),
    );
    expect(small.name).toBe('EntityTooSmall');
    expect((await post(completeXml([{ n: 1, etag: etags[0]! }]), '0'.repeat(32))).name).toBe('NoSuchUpload');
    // Still there: a one-part completion (the last part may be small) works.
    const ok = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etags[0] }] },
      }),
    );
    expect(ok.ETag).toBe(multipartEtag([a]));
  });

  it('accepts a CompleteMultipartUpload body without the namespace (raw request)', async () => {
    const Key = 'raw-complete';
    const { UploadId, parts } = await upload(Key, [pattern(10, 1)]);
    const body = completeXml([{ n: 1, etag: parts[0]!.ETag! }], false);
    const res = await rawSigned('POST', `/${Bucket}/${Key}?uploadId=${UploadId}`, body);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('<ETag>&quot;');
    expect(res.body.toString()).toContain('-1&quot;</ETag>');
  });

  it('composite and full-object CRC32 checksums', async () => {
    const parts = [big1, tail];
    const composite = await upload('crc-composite', parts, { ChecksumAlgorithm: 'CRC32' });
    expect(composite.parts[0]!.ChecksumCRC32).toBe(toBase64(hashBytes('CRC32', big1)));
    const c = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'crc-composite',
        UploadId: composite.UploadId,
        MultipartUpload: { Parts: composite.parts },
      }),
    );
    const expected = compositeChecksum(
      'CRC32',
      parts.map((p) => hashBytes('CRC32', p)),
    );
    expect(c.ChecksumCRC32).toBe(expected);
    expect(c.ChecksumType).toBe('COMPOSITE');
    const head = await s3.send(
      new HeadObjectCommand({ Bucket, Key: 'crc-composite', ChecksumMode: 'ENABLED' }),
    );
    expect(head.ChecksumCRC32).toBe(expected);

    const full = await upload('crc-full', parts, { ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' });
    const f = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'crc-full',
        UploadId: full.UploadId,
        MultipartUpload: { Parts: full.parts },
        ChecksumType: 'FULL_OBJECT',
      }),
    );
    const whole = Buffer.concat(parts);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(whole));
    expect(f.ChecksumCRC32).toBe(crc.toString('base64'));
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'crc-full', ChecksumMode: 'ENABLED' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(whole)).toBe(true);
    expect(got.ChecksumCRC32).toBe(crc.toString('base64'));

    // A part checksum in the completion that differs from the stored one is InvalidPart.
    const bad = await upload('crc-bad', [tail], { ChecksumAlgorithm: 'CRC32' });
    const e = await s3ErrorOf(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'crc-bad',
          UploadId: bad.UploadId,
          MultipartUpload: { Parts: [{ ...bad.parts[0], ChecksumCRC32: 'AAAAAA==' }] },
        }),
      ),
    );
    expect(e.name).toBe('InvalidPart');
  });

  it('checks what CompleteMultipartUpload claims about the object: full-object checksum and size', async () => {
    const body = pattern(3000, 21);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    const attempt = async (Key: string, extra: Record<string, unknown>) => {
      const up = await upload(Key, [body], { ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' });
      return s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: up.UploadId,
          MultipartUpload: { Parts: up.parts },
          ChecksumType: 'FULL_OBJECT',
          ...extra,
        }),
      );
    };
    const ok = await attempt('claims-ok', { ChecksumCRC32: crc.toString('base64'), MpuObjectSize: 3000 });
    expect(ok.ChecksumCRC32).toBe(crc.toString('base64'));
    expect((await s3ErrorOf(attempt('claims-crc', { ChecksumCRC32: 'AAAAAA==' }))).name).toBe('BadDigest');
    expect((await s3ErrorOf(attempt('claims-size', { MpuObjectSize: 2999 }))).name).toBe('InvalidRequest');
  });

  it('UploadPart takes an aws-chunked stream body with a trailing checksum (SDK default for streams)', async () => {
    const Key = 'streamed-part';
    const data = pattern(300_000, 22);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const r = await s3.send(
      new UploadPartCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        Body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        ContentLength: data.length,
      }),
    );
    expect(r.ETag).toBe(`"${md5(data).toString('hex')}"`);
    expect(r.ChecksumCRC32).toBe(toBase64(hashBytes('CRC32', data)));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 }] },
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('conditional completion: If-None-Match: * on an existing key is 412, and the upload stays', async () => {
    const Key = 'cond';
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x' }));
    const { UploadId, parts } = await upload(Key, [pattern(10, 1)]);
    const e = await s3ErrorOf(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
    expect(e.$metadata.httpStatusCode).toBe(412);
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(listed.Parts).toHaveLength(1);
    const ok = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        IfMatch: `"${md5(Buffer.from('x')).toString('hex')}"`,
        MultipartUpload: { Parts: parts },
      }),
    );
    expect(ok.ETag).toMatch(/-1"$/);
  });

  it('abort: the upload and its parts are gone', async () => {
    const Key = 'aborted';
    const { UploadId } = await upload(Key, [pattern(100, 1)]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect((await s3ErrorOf(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))).name).toBe(
      'NoSuchUpload',
    );
    const again = await s3ErrorOf(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })));
    expect(again.name).toBe('NoSuchUpload');
    const part = await s3ErrorOf(
      s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'x' })),
    );
    expect(part.name).toBe('NoSuchUpload');
  });

  it('DeleteBucket drops the uploads in progress; a bucket created again under the name has none', async () => {
    const B = 'mpu-gone';
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'k' }));
    await s3.send(new UploadPartCommand({ Bucket: B, Key: 'k', UploadId, PartNumber: 1, Body: 'part' }));
    await s3.send(new DeleteBucketCommand({ Bucket: B }));
    await s3.send(new CreateBucketCommand({ Bucket: B }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: B }));
    expect(listed.Uploads ?? []).toEqual([]);
    const e = await s3ErrorOf(s3.send(new ListPartsCommand({ Bucket: B, Key: 'k', UploadId })));
    expect(e.name).toBe('NoSuchUpload');
  });

  it('validates part numbers', async () => {
    const Key = 'pn';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    for (const PartNumber of [0, 10001]) {
      const e = await s3ErrorOf(
        s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: 'x' })),
      );
      expect(e.name).toBe('InvalidArgument');
    }
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  });

  it('ListMultipartUploads: key order, prefix, delimiter, markers, max-uploads', async () => {
    const Bucket = 'mp-list';
    await s3.send(new CreateBucketCommand({ Bucket }));
    const ids: Record<string, string[]> = {};
    for (const Key of ['b', 'a/1', 'a/2', 'c', 'b']) {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      ids[Key] = [...(ids[Key] ?? []), UploadId as string];
    }
    const all = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
    expect(all.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['a/1', ids['a/1']![0]],
      ['a/2', ids['a/2']![0]],
      ['b', ids.b![0]],
      ['b', ids.b![1]],
      ['c', ids.c![0]],
    ]);
    const delim = await s3.send(new ListMultipartUploadsCommand({ Bucket, Delimiter: '/' }));
    expect(delim.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
    expect(delim.Uploads?.map((u) => u.Key)).toEqual(['b', 'b', 'c']);
    const prefixed = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'a/' }));
    expect(prefixed.Uploads?.map((u) => u.Key)).toEqual(['a/1', 'a/2']);

    const page1 = await s3.send(new ListMultipartUploadsCommand({ Bucket, MaxUploads: 3 }));
    expect(page1.IsTruncated).toBe(true);
    expect(page1.Uploads?.map((u) => u.Key)).toEqual(['a/1', 'a/2', 'b']);
    expect(page1.NextKeyMarker).toBe('b');
    expect(page1.NextUploadIdMarker).toBe(ids.b![0]);
    const page2 = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket,
        MaxUploads: 3,
        KeyMarker: page1.NextKeyMarker,
        UploadIdMarker: page1.NextUploadIdMarker,
      }),
    );
    expect(page2.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([
      ['b', ids.b![1]],
      ['c', ids.c![0]],
    ]);
    expect(page2.IsTruncated).toBe(false);
    const afterKey = await s3.send(new ListMultipartUploadsCommand({ Bucket, KeyMarker: 'b' }));
    expect(afterKey.Uploads?.map((u) => u.Key)).toEqual(['c']);

    await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'd+e f%' }));
    const encoded = await s3.send(
      new ListMultipartUploadsCommand({ Bucket, EncodingType: 'url', Prefix: 'd' }),
    );
    expect(encoded.Uploads?.map((u) => u.Key)).toEqual(['d%2Be+f%25']);
  });

  async function rawSigned(method: string, path: string, body: string) {
    // A presigned URL authenticates the request line; the raw body is then exactly what we choose.
    const [p, q = ''] = path.split('?');
    const key = decodeURIComponent(p!.split('/').slice(2).join('/'));
    const uploadId = new URLSearchParams(q).get('uploadId') as string;
    const url = new URL(
      await getSignedUrl(s3, new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }), {
        expiresIn: 60,
      }),
    );
    return rawRequest(gw.port, { method, path: url.pathname + url.search, body });
  }
});
