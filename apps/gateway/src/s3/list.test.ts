import {
  DeleteObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rawRequest,
  startGatewayWithClient,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'listing';
const KEYS = ['a/1', 'a/2', 'a/b/3', 'b', 'c+d', 'c%e', 'c d', 'd/x', 'd/y', 'e'];

describe('listing', () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket }));
    await Promise.all(KEYS.map((Key) => s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  it('ListObjectsV2 lists every key in byte order with sizes and ETags', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(
      [...KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
    expect(r.KeyCount).toBe(KEYS.length);
    expect(r.IsTruncated).toBe(false);
    expect(r.Contents?.[0]?.Size).toBe(3);
    expect(r.Contents?.[0]?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(r.Contents?.[0]?.Owner).toBeUndefined();
  });

  it('prefix + delimiter give common prefixes, counted against max-keys', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    expect(r.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'd/']);
    expect(r.Contents?.map((c) => c.Key)).toEqual(['b', 'c d', 'c%e', 'c+d', 'e']);
    const inA = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a/', Delimiter: '/' }));
    expect(inA.Contents?.map((c) => c.Key)).toEqual(['a/1', 'a/2']);
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/']);
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/', MaxKeys: 2 }));
    expect(page.KeyCount).toBe(2);
    expect(page.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
    expect(page.Contents?.map((c) => c.Key)).toEqual(['b']);
    expect(page.IsTruncated).toBe(true);
  });

  it('paginates with continuation tokens (stable under concurrent writes), fetch-owner, start-after', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await s3.send(
        new ListObjectsV2Command({ Bucket, MaxKeys: 3, ContinuationToken: token, FetchOwner: true }),
      );
      pages++;
      for (const c of r.Contents ?? []) {
        seen.push(c.Key as string);
        expect(c.Owner?.DisplayName).toBe('blobcache');
      }
      if (pages === 1) await s3.send(new PutObjectCommand({ Bucket, Key: 'a/0-late', Body: 'x' }));
      token = r.NextContinuationToken;
    } while (token);
    expect(seen).toEqual([...KEYS].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    const after = await s3.send(new ListObjectsV2Command({ Bucket, StartAfter: 'd/x' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['d/y', 'e']);
    expect(after.StartAfter).toBe('d/x');
  });

  it('an empty continuation token starts from the beginning and is echoed', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: '' }));
    expect(r.ContinuationToken).toBe('');
    expect(r.KeyCount).toBeGreaterThanOrEqual(KEYS.length);
  });

  it('start-after is ignored when a continuation token is present', async () => {
    const first = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 1 }));
    const next = await s3.send(
      new ListObjectsV2Command({
        Bucket,
        MaxKeys: 1,
        ContinuationToken: first.NextContinuationToken,
        StartAfter: 'e',
      }),
    );
    expect(next.Contents?.[0]?.Key).not.toBe(first.Contents?.[0]?.Key);
    expect(next.Contents?.[0]?.Key).not.toBeUndefined();
  });

  it('max-keys=0 returns nothing, untruncated; invalid max-keys and tokens are InvalidArgument', async () => {
    const zero = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 0 }));
    expect(zero.KeyCount).toBe(0);
    expect(zero.IsTruncated).toBe(false);
    const bad = await s3
      .send(new ListObjectsV2Command({ Bucket, MaxKeys: -1 }))
      .catch((e: S3ServiceException) => e);
    expect((bad as S3ServiceException).name).toBe('InvalidArgument');
    await expect(
      s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: '!!' })),
    ).rejects.toBeInstanceOf(S3ServiceException);
  });

  it('encoding-type=url percent-encodes keys and prefixes (+ as %2B, space as +)', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'c', EncodingType: 'url' }));
    expect(r.EncodingType).toBe('url');
    // The JS SDK does not decode: we see the wire form.
    expect(r.Contents?.map((c) => c.Key)).toEqual(['c+d', 'c%25e', 'c%2Bd']);
  });

  it('keys with characters XML cannot carry are listed with encoding-type=url', async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'zz\u0001ctl', Body: 'x' }));
    const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'zz', EncodingType: 'url' }));
    expect(r.Contents?.map((c) => c.Key)).toEqual(['zz%01ctl']);
    const plain = await s3
      .send(new ListObjectsV2Command({ Bucket, Prefix: 'zz' }))
      .catch((e: S3ServiceException) => e);
    expect((plain as S3ServiceException).name).toBe('InvalidArgument');
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'zz\u0001ctl' }));
  });

  it('ListObjects v1 pages with markers (NextMarker with a delimiter)', async () => {
    const r = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', MaxKeys: 2 }));
    expect(r.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
    expect(r.Contents?.map((c) => c.Key)).toEqual(['b']);
    expect(r.IsTruncated).toBe(true);
    expect(r.NextMarker).toBe('b');
    const next = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', Marker: 'a/' }));
    expect(next.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['d/']);
    expect(next.Contents?.[0]?.Key).toBe('b');
    expect(next.Contents?.[0]?.Owner?.DisplayName).toBe('blobcache');
  });

  it('ListObjectVersions lists current objects as version "null"', async () => {
    const r = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'd/' }));
    expect(r.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ['d/x', 'null', true],
      ['d/y', 'null', true],
    ]);
  });

  it('over-long prefixes and positions match nothing instead of failing', async () => {
    const long = 'x'.repeat(1500);
    const byPrefix = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: long }));
    expect(byPrefix.KeyCount).toBe(0);
    const byStart = await s3.send(new ListObjectsV2Command({ Bucket, StartAfter: `a${long}` }));
    expect(byStart.Contents?.[0]?.Key).toBe('b');
  });

  it('listing a missing bucket is NoSuchBucket', async () => {
    const url = await getSignedUrl(s3, new ListObjectsV2Command({ Bucket: 'nobucket' }), { expiresIn: 60 });
    const u = new URL(url);
    const res = await rawRequest(gw.port, { method: 'GET', path: u.pathname + u.search });
    expect(res.status).toBe(404);
    expect(res.body.toString()).toContain('<Code>NoSuchBucket</Code>');
  });
});
