// Conditional deletes through the SDK: DeleteObject with IfMatch / IfMatchLastModifiedTime /
// IfMatchSize, and DeleteObjects entries with ETag / Size. A condition that fails keeps the object.
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3ErrorOf, useGatewayWithClient } from '../testing/harness.ts';

const Bucket = 'conditional';

describe('conditional deletes', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });
  const put = async (Key: string, Body: string) =>
    (await suite.s3.send(new PutObjectCommand({ Bucket, Key, Body }))).ETag!;
  const exists = async (Key: string) =>
    suite.s3.send(new HeadObjectCommand({ Bucket, Key })).then(
      () => true,
      (err: { name?: string }) => {
        if (err.name === 'NotFound') return false;
        throw err;
      },
    );

  it('DeleteObject deletes only the version its conditions name', async () => {
    const etag = await put('one', 'first');
    const stale = await s3ErrorOf(
      suite.s3.send(new DeleteObjectCommand({ Bucket, Key: 'one', IfMatch: '"0000"' })),
    );
    expect(stale.name).toBe('PreconditionFailed');
    expect(stale.$metadata.httpStatusCode).toBe(412);
    const size = await s3ErrorOf(
      suite.s3.send(new DeleteObjectCommand({ Bucket, Key: 'one', IfMatchSize: 4 })),
    );
    expect(size.name).toBe('PreconditionFailed');
    expect(await exists('one')).toBe(true);
    const head = await suite.s3.send(new HeadObjectCommand({ Bucket, Key: 'one' }));
    await suite.s3.send(
      new DeleteObjectCommand({
        Bucket,
        Key: 'one',
        IfMatch: etag,
        IfMatchSize: 5,
        IfMatchLastModifiedTime: head.LastModified,
      }),
    );
    expect(await exists('one')).toBe(false);
    const missing = await s3ErrorOf(
      suite.s3.send(new DeleteObjectCommand({ Bucket, Key: 'one', IfMatch: etag })),
    );
    expect(missing.name).toBe('NoSuchKey');
  });

  it('DeleteObjects judges each entry by its own ETag and Size', async () => {
    const a = await put('a', 'aaa');
    await put('b', 'bbb');
    await put('c', 'ccc');
    const out = await suite.s3.send(
      new DeleteObjectsCommand({
        Bucket,
        Delete: {
          Objects: [
            { Key: 'a', ETag: a },
            { Key: 'b', ETag: '"ffff"' },
            { Key: 'c', Size: 2 },
          ],
        },
      }),
    );
    expect(out.Deleted?.map((d) => d.Key)).toEqual(['a']);
    expect(out.Errors?.map((e) => [e.Key, e.Code])).toEqual([
      ['b', 'PreconditionFailed'],
      ['c', 'PreconditionFailed'],
    ]);
    expect([await exists('a'), await exists('b'), await exists('c')]).toEqual([false, true, true]);
  });
});
