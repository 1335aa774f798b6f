// Lifecycle rules through the SDK (what Terraform's aws_s3_bucket_lifecycle_configuration sends):
// stored and read back, refused where S3 refuses them, and carried out by the running gateway.
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3ErrorOf, useGatewayWithClient } from '../testing/harness.ts';

const Bucket = 'aging';
const WAIT_MS = 10_000;

describe('bucket lifecycle rules', () => {
  const suite = useGatewayWithClient({ bucket: Bucket });
  const exists = async (Key: string): Promise<boolean> => {
    try {
      await suite.s3.send(new HeadObjectCommand({ Bucket, Key }));
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFound') return false;
      throw err;
    }
  };

  const putRules = (Rules: LifecycleRule[]) =>
    suite.s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));

  it('stores rules, reads them back, deletes them', async () => {
    const Rules = [
      { ID: 'logs', Status: 'Enabled' as const, Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      {
        ID: 'uploads',
        Status: 'Enabled' as const,
        Filter: { Prefix: '' },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ];
    await putRules(Rules);
    const got = await suite.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
    expect(got.Rules).toEqual(Rules);
    await suite.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    const none = await s3ErrorOf(suite.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })));
    expect(none.name).toBe('NoSuchLifecycleConfiguration');
  });

  it('refuses transitions to archive classes with 501 and invalid rules with 400', async () => {
    const transition = await s3ErrorOf(
      putRules([
        {
          Status: 'Enabled',
          Filter: { Prefix: '' },
          Transitions: [{ Days: 30, StorageClass: 'GLACIER' }],
        },
      ]),
    );
    expect(transition.name).toBe('NotImplemented');
    const midday = await s3ErrorOf(
      putRules([
        {
          Status: 'Enabled',
          Filter: { Prefix: '' },
          Expiration: { Date: new Date('2030-01-01T12:00:00Z') },
        },
      ]),
    );
    expect(midday.name).toBe('InvalidArgument');
    expect(midday.$metadata.httpStatusCode).toBe(400);
  });

  it('names the expiration of an object a rule selects on PUT, HEAD and GET (x-amz-expiration)', async () => {
    await putRules([
      { ID: 'logs rule', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 2 } },
    ]);
    const put = await suite.s3.send(new PutObjectCommand({ Bucket, Key: 'logs/today', Body: 'x' }));
    const head = await suite.s3.send(new HeadObjectCommand({ Bucket, Key: 'logs/today' }));
    const expected = head.Expiration ?? '';
    // Two days after creation, rounded up to a midnight UTC (Last-Modified is whole seconds here).
    const m = /^expiry-date="([^"]+)", rule-id="logs%20rule"$/.exec(expected);
    const dueMs = Date.parse(m?.[1] ?? '');
    const createdMs = head.LastModified!.getTime();
    expect(dueMs % 86_400_000).toBe(0);
    expect(dueMs).toBeGreaterThanOrEqual(createdMs + 2 * 86_400_000);
    expect(dueMs).toBeLessThanOrEqual(createdMs + 3 * 86_400_000);
    expect(put.Expiration).toBe(expected);
    expect((await suite.s3.send(new GetObjectCommand({ Bucket, Key: 'logs/today' }))).Expiration).toBe(
      expected,
    );
    await suite.s3.send(new PutObjectCommand({ Bucket, Key: 'other/today', Body: 'x' }));
    expect(
      (await suite.s3.send(new HeadObjectCommand({ Bucket, Key: 'other/today' }))).Expiration,
    ).toBeUndefined();
    await suite.s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    expect(
      (await suite.s3.send(new HeadObjectCommand({ Bucket, Key: 'logs/today' }))).Expiration,
    ).toBeUndefined();
  });

  it('expires objects a rule already finds due, right after the rule is put', async () => {
    for (const Key of ['tmp/a', 'tmp/b', 'kept/c'])
      await suite.s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
    await putRules([
      {
        ID: 'past',
        Status: 'Enabled',
        Filter: { Prefix: 'tmp/' },
        Expiration: { Date: new Date('2020-01-01T00:00:00Z') },
      },
    ]);
    const deadline = Date.now() + WAIT_MS;
    while ((await exists('tmp/a')) || (await exists('tmp/b'))) {
      if (Date.now() > deadline) throw new Error(`tmp/ objects still there after ${WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await exists('kept/c')).toBe(true);
    // The sweep counts its work once it completes (the deletes above happen during it).
    const expiredTotal = async (): Promise<number> =>
      Number(/^blobcache_lifecycle_expired_total (\d+)/m.exec((await suite.gw.metrics.scrape()).body)?.[1]);
    while ((await expiredTotal()) < 2) {
      if (Date.now() > deadline) throw new Error('blobcache_lifecycle_expired_total did not reach 2');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
