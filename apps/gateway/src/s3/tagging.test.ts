// Object tagging with the SDK: tags set on write (PutObject, CopyObject, multipart), read,
// replaced and deleted in place (version, ETag, Last-Modified and bytes unchanged), kept across a
// restart, and bad tags refused the way S3 refuses them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pattern,
  s3Client,
  s3ErrorOf,
  startGatewayWithClient,
  startTestGateway,
  stopGatewayWithClient,
  type TestGateway,
} from '../testing/harness.ts';

const Bucket = 'tagged';
const MiB = 1024 * 1024;

describe('object tagging', () => {
  let dataDir: string;
  let gw: TestGateway;
  let s3: S3Client;

  async function tagsOf(Key: string): Promise<Array<{ Key?: string; Value?: string }>> {
    return (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet ?? [];
  }
  async function bytesOf(
    Key: string,
  ): Promise<{ body: Buffer; tagCount: number | undefined; etag?: string }> {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    return {
      body: Buffer.from(await got.Body!.transformToByteArray()),
      tagCount: got.TagCount,
      ...(got.ETag === undefined ? {} : { etag: got.ETag }),
    };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'blobcache-tagging-'));
    ({ gw, s3 } = await startGatewayWithClient({ bucket: Bucket, config: { dataDir } }));
  });
  afterAll(async () => {
    await stopGatewayWithClient(gw, s3);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('PutObject with x-amz-tagging: GetObjectTagging lists the tags, GetObject counts them', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket, Key: 'small', Body: 'hello', Tagging: 'project=blue%20sky&team=a%2Bb' }),
    );
    expect(await tagsOf('small')).toEqual([
      { Key: 'project', Value: 'blue sky' },
      { Key: 'team', Value: 'a+b' },
    ]);
    const got = await bytesOf('small');
    expect(got.body.toString()).toBe('hello');
    expect(got.tagCount).toBe(2);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'untagged', Body: 'x' }));
    expect(await tagsOf('untagged')).toEqual([]);
    expect((await bytesOf('untagged')).tagCount).toBeUndefined();
  });

  it('PutObjectTagging and DeleteObjectTagging change only the tags, in place', async () => {
    const body = pattern(2 * MiB + 5, 9); // chunked, not inline
    for (const [Key, Body] of [
      ['chunked', body],
      ['inline', Buffer.from('tiny')],
    ] as const) {
      await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
      const before = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket,
          Key,
          Tagging: { TagSet: [{ Key: 'state', Value: 'reviewed' }] },
        }),
      );
      expect(await tagsOf(Key)).toEqual([{ Key: 'state', Value: 'reviewed' }]);
      const after = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      expect(after.ETag).toBe(before.ETag);
      expect(after.LastModified).toEqual(before.LastModified);
      const read = await bytesOf(Key);
      expect(read.body.equals(Body)).toBe(true);
      expect(read.tagCount).toBe(1);
      await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key }));
      expect(await tagsOf(Key)).toEqual([]);
      expect((await bytesOf(Key)).body.equals(Body)).toBe(true);
    }
  });

  it('an inline object whose tags outgrow the inline head still reads back byte-exact, also after a restart', async () => {
    const body = pattern(6000, 3);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'full-inline', Body: body }));
    const TagSet = Array.from({ length: 10 }, (_, i) => ({
      Key: `k${i}-${'é'.repeat(100)}`,
      Value: 'v'.repeat(256),
    }));
    await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'full-inline', Tagging: { TagSet } }));
    expect((await bytesOf('full-inline')).body.equals(body)).toBe(true);
    await gw.stop();
    gw = await startTestGateway({ dataDir });
    s3.destroy();
    s3 = s3Client(gw);
    expect((await bytesOf('full-inline')).body.equals(body)).toBe(true);
    expect(await tagsOf('full-inline')).toEqual(TagSet);
    expect(await tagsOf('small')).toHaveLength(2);
  });

  it('CopyObject copies the source tags by default and takes the request tags with REPLACE', async () => {
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy-default', CopySource: `${Bucket}/small` }));
    expect(await tagsOf('copy-default')).toHaveLength(2);
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'copy-replace',
        CopySource: `${Bucket}/small`,
        TaggingDirective: 'REPLACE',
        Tagging: 'only=this',
      }),
    );
    expect(await tagsOf('copy-replace')).toEqual([{ Key: 'only', Value: 'this' }]);
  });

  it('CreateMultipartUpload tags the completed object', async () => {
    const Key = 'multi';
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key, Tagging: 'kind=upload' }),
    );
    const part = await s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'part one' }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(await tagsOf(Key)).toEqual([{ Key: 'kind', Value: 'upload' }]);
  });

  it('bucket tags: none set (NoSuchTagSet), put, read back after a restart, deleted; 50 at most', async () => {
    const none = await s3ErrorOf(s3.send(new GetBucketTaggingCommand({ Bucket })));
    expect(none.name).toBe('NoSuchTagSet');
    const TagSet = [
      { Key: 'env', Value: 'dev' },
      { Key: 'owner', Value: 'team blue' },
    ];
    await s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet } }));
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual(TagSet);
    await gw.stop();
    gw = await startTestGateway({ dataDir });
    s3.destroy();
    s3 = s3Client(gw);
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket }))).TagSet).toEqual(TagSet);
    const fiftyOne = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const tooMany = await s3ErrorOf(
      s3.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: fiftyOne } })),
    );
    expect(tooMany.name).toBe('InvalidTag');
    await s3.send(new DeleteBucketTaggingCommand({ Bucket }));
    expect((await s3ErrorOf(s3.send(new GetBucketTaggingCommand({ Bucket })))).name).toBe('NoSuchTagSet');
  });

  it('refuses bad tags with InvalidTag and missing objects with NoSuchKey', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    const tooMany = await s3ErrorOf(
      s3.send(new PutObjectCommand({ Bucket, Key: 'bad', Body: 'x', Tagging: eleven })),
    );
    expect(tooMany.name).toBe('InvalidTag');
    const reserved = await s3ErrorOf(
      s3.send(
        new PutObjectTaggingCommand({
          Bucket,
          Key: 'small',
          Tagging: { TagSet: [{ Key: 'aws:owner', Value: 'me' }] },
        }),
      ),
    );
    expect(reserved.name).toBe('InvalidTag');
    expect(await tagsOf('small')).toHaveLength(2); // a refused replacement changes nothing
    await expect(s3.send(new HeadObjectCommand({ Bucket, Key: 'bad' }))).rejects.toThrow();
    for (const command of [
      new GetObjectTaggingCommand({ Bucket, Key: 'nope' }),
      new PutObjectTaggingCommand({ Bucket, Key: 'nope', Tagging: { TagSet: [] } }),
      new DeleteObjectTaggingCommand({ Bucket, Key: 'nope' }),
    ]) {
      // biome-ignore lint/suspicious/noExplicitAny: three command types through one send
      expect((await s3ErrorOf(s3.send(command as any))).name).toBe('NoSuchKey');
    }
  });
});
