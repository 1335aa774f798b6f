// Bucket configuration reads, answered truthfully for a bucket the gateway cannot configure:
// "none set" (the 404 S3 answers for a bucket without that configuration) for website, object
// lock and replication; the settings that are fixed here (no acceleration, the owner pays, no
// logging, no notifications) as S3 renders them. Deleting a configuration that cannot exist
// succeeds (204), as S3 answers for one that was never set. Putting a fixed setting's own value
// (acceleration Suspended, payer BucketOwner, logging or notifications off) is accepted: nothing
// changes. Setting anything else stays 501: accepting a setting that is never enforced would be
// a lie. (Bucket tags, policies, CORS rules,
// lifecycle rules, default encryption, Block Public Access and Object Ownership are real:
// tagging.ts, bucket-policy.ts, bucket-cors.ts, bucket-lifecycle.ts, encryption.ts,
// public-access.ts.) Tools that read every bucket setting (Terraform's aws_s3_bucket) work.
import {
  childText,
  el,
  parseXml,
  S3Error,
  type S3ErrorCode,
  type XmlElement,
  type XmlNode,
} from '@blobcache/s3-protocol';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

type Answer = { notSet: S3ErrorCode } | { document: (ctx: BucketContext) => XmlElement | S3ErrorCode };

/**
 * A write of a fixed setting: `keeps` says whether the body asks for exactly the fixed state (then
 * it is accepted, changing nothing); anything else would need a feature the gateway lacks (501).
 */
type FixedWrite = { operation: string; keeps: (root: XmlNode) => boolean; what: string };

/** The configuration a bucket has, by subresource. */
const READS: ReadonlyArray<{
  param: string;
  operation: string;
  answer: Answer;
  deletable?: string;
  fixedWrite?: FixedWrite;
}> = [
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
    fixedWrite: {
      operation: 'PutBucketAccelerateConfiguration',
      keeps: (root) =>
        root.name === 'AccelerateConfiguration' && childText(root, 'Status')?.trim() === 'Suspended',
      what: 'Transfer Acceleration',
    },
  },
  {
    param: 'requestPayment',
    operation: 'GetBucketRequestPayment',
    answer: { document: () => el('RequestPaymentConfiguration', [el('Payer', 'BucketOwner')]) },
    fixedWrite: {
      operation: 'PutBucketRequestPayment',
      keeps: (root) =>
        root.name === 'RequestPaymentConfiguration' && childText(root, 'Payer')?.trim() === 'BucketOwner',
      what: 'Requester Pays',
    },
  },
  {
    param: 'logging',
    operation: 'GetBucketLogging',
    answer: { document: () => el('BucketLoggingStatus', []) },
    fixedWrite: {
      operation: 'PutBucketLogging',
      keeps: (root) => root.name === 'BucketLoggingStatus' && root.children.length === 0,
      what: 'server access logging',
    },
  },
  {
    param: 'notification',
    operation: 'GetBucketNotificationConfiguration',
    answer: { document: () => el('NotificationConfiguration', []) },
    fixedWrite: {
      operation: 'PutBucketNotificationConfiguration',
      keeps: (root) => root.name === 'NotificationConfiguration' && root.children.length === 0,
      what: 'event notifications',
    },
  },
];

async function read(ctx: BucketContext, answer: Answer): Promise<Response> {
  await requireBucket(ctx);
  const doc = 'notSet' in answer ? answer.notSet : answer.document(ctx);
  if (typeof doc === 'string') throw new S3Error(doc, undefined, { extra: { BucketName: ctx.bucket } });
  return xmlResponse(doc);
}

/** Accepts a body asking for the fixed state (nothing to change), 501 for anything else. */
async function writeFixed(ctx: BucketContext, fixed: FixedWrite): Promise<Response> {
  await requireBucket(ctx);
  const root = parseXml(await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES));
  if (!fixed.keeps(root)) throw new S3Error('NotImplemented', `blobcache does not implement ${fixed.what}`);
  return emptyResponse(200);
}

export const bucketConfigRoutes: S3Route[] = READS.flatMap(
  ({ param, operation, answer, deletable, fixedWrite }) => {
    const routes: S3Route[] = [
      { operation, method: 'GET', level: 'bucket', param, handle: (ctx: BucketContext) => read(ctx, answer) },
    ];
    if (fixedWrite !== undefined) {
      routes.push({
        operation: fixedWrite.operation,
        method: 'PUT',
        level: 'bucket',
        param,
        handle: (ctx: BucketContext) => writeFixed(ctx, fixedWrite),
      });
    }
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
  },
);
