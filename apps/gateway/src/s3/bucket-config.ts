// Bucket configuration reads, answered truthfully for a bucket the gateway cannot configure:
// "none set" (the 404 S3 answers for a bucket without that configuration) for website, object
// lock and replication; the settings that are fixed here (no acceleration, the owner pays, no
// logging, no notifications) as S3 renders them. Deleting a configuration that cannot exist
// succeeds (204), as S3 answers for one that was never set. Setting any of them stays 501:
// accepting a setting that is never enforced would be a lie. (Bucket tags, policies, CORS rules,
// lifecycle rules, default encryption, Block Public Access and Object Ownership are real:
// tagging.ts, bucket-policy.ts, bucket-cors.ts, bucket-lifecycle.ts, encryption.ts,
// public-access.ts.) Tools that read every bucket setting (Terraform's aws_s3_bucket) work.
import { el, S3Error, type S3ErrorCode, type XmlElement } from '@blobcache/s3-protocol';
import type { BucketContext } from './context.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

type Answer = { notSet: S3ErrorCode } | { document: (ctx: BucketContext) => XmlElement | S3ErrorCode };

/** The configuration a bucket has, by subresource. */
const READS: ReadonlyArray<{ param: string; operation: string; answer: Answer; deletable?: string }> = [
  {
    param: 'website',
    operation: 'GetBucketWebsite',
    answer: { notSet: 'NoSuchWebsiteConfiguration' },
    deletable: 'DeleteBucketWebsite',
  },
  {
    param: 'object-lock',
    operation: 'GetObjectLockConfiguration',
    answer: { notSet: 'ObjectLockConfigurationNotFoundError' },
  },
  {
    param: 'replication',
    operation: 'GetBucketReplication',
    answer: { notSet: 'ReplicationConfigurationNotFoundError' },
    deletable: 'DeleteBucketReplication',
  },
  {
    param: 'accelerate',
    operation: 'GetBucketAccelerateConfiguration',
    answer: { document: () => el('AccelerateConfiguration', []) },
  },
  {
    param: 'requestPayment',
    operation: 'GetBucketRequestPayment',
    answer: { document: () => el('RequestPaymentConfiguration', [el('Payer', 'BucketOwner')]) },
  },
  {
    param: 'logging',
    operation: 'GetBucketLogging',
    answer: { document: () => el('BucketLoggingStatus', []) },
  },
  {
    param: 'notification',
    operation: 'GetBucketNotificationConfiguration',
    answer: { document: () => el('NotificationConfiguration', []) },
  },
];

async function read(ctx: BucketContext, answer: Answer): Promise<Response> {
  await requireBucket(ctx);
  const doc = 'notSet' in answer ? answer.notSet : answer.document(ctx);
  if (typeof doc === 'string') throw new S3Error(doc, undefined, { extra: { BucketName: ctx.bucket } });
  return xmlResponse(doc);
}

export const bucketConfigRoutes: S3Route[] = READS.flatMap(({ param, operation, answer, deletable }) => {
  const routes: S3Route[] = [
    { operation, method: 'GET', level: 'bucket', param, handle: (ctx: BucketContext) => read(ctx, answer) },
  ];
  if (deletable !== undefined) {
    routes.push({
      operation: deletable,
      method: 'DELETE',
      level: 'bucket',
      param,
      handle: async (ctx: BucketContext) => {
        await requireBucket(ctx);
        return emptyResponse(204);
      },
    });
  }
  return routes;
});
