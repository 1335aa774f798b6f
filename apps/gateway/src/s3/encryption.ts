// Server-side encryption as requested on the wire: SSE-S3 (`x-amz-server-side-encryption:
// AES256`, or a bucket's default encryption) is carried out by the store (store/sse.ts) and
// reported back in `x-amz-server-side-encryption`. SSE-KMS and DSSE-KMS need a key service the
// gateway does not have: 501, never silently stored unencrypted. (SSE-C is refused in
// objects-put.ts.) Bucket default encryption: Put/Get/DeleteBucketEncryption.
import { childElements, childText, el, firstChild, parseXml, S3Error } from '@blobcache/s3-protocol';
import type { BucketRecord, ObjectHead } from '../store/object-head.ts';
import type { BucketContext, Headers } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { clearBucketSetting, requireBucket, setBucketSettings } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

const SSE_HEADER = 'x-amz-server-side-encryption';
const KMS_HEADERS = [
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
] as const;

function checkAlgorithm(algorithm: string): void {
  if (algorithm === 'AES256') return;
  if (algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse')
    throw new S3Error(
      'NotImplemented',
      `blobcache has no key management service for ${algorithm} encryption`,
    );
  throw new S3Error('InvalidArgument', 'The encryption method specified is not supported', {
    extra: { ArgumentName: SSE_HEADER, ArgumentValue: algorithm },
  });
}

/** Whether a write is to be encrypted: its own SSE header, else the bucket's default. */
export function requestedSse(headers: Headers, record: BucketRecord | undefined): boolean {
  for (const h of KMS_HEADERS)
    if (headers[h] !== undefined) throw new S3Error('NotImplemented', `blobcache does not implement ${h}`);
  const algorithm = headers[SSE_HEADER]?.trim();
  if (algorithm === undefined) return record?.encryption === 'AES256';
  checkAlgorithm(algorithm);
  return true;
}

/** The response header naming an object's encryption (none for plaintext objects). */
export function sseResponseHeaders(
  head: Pick<ObjectHead, 'sse'> | { sse?: 'AES256' | undefined },
): Record<string, string> {
  return head.sse === undefined ? {} : { [SSE_HEADER]: head.sse };
}

function encryptionConfiguration(): ReturnType<typeof el> {
  return el('ServerSideEncryptionConfiguration', [
    el('Rule', [
      el('ApplyServerSideEncryptionByDefault', [el('SSEAlgorithm', 'AES256')]),
      el('BucketKeyEnabled', 'false'),
    ]),
  ]);
}

async function getBucketEncryption(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (record.encryption === undefined)
    throw new S3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, {
      extra: { BucketName: ctx.bucket },
    });
  return xmlResponse(encryptionConfiguration());
}

async function putBucketEncryption(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const root = parseXml(
    await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true }),
  );
  if (root.name !== 'ServerSideEncryptionConfiguration') throw new S3Error('MalformedXML');
  const rules = childElements(root, 'Rule');
  if (rules.length !== 1) throw new S3Error('MalformedXML');
  const byDefault = firstChild(rules[0]!, 'ApplyServerSideEncryptionByDefault');
  const algorithm = byDefault === undefined ? undefined : childText(byDefault, 'SSEAlgorithm')?.trim();
  if (algorithm === undefined) throw new S3Error('MalformedXML');
  checkAlgorithm(algorithm);
  if (childText(byDefault!, 'KMSMasterKeyID') !== undefined)
    throw new S3Error('InvalidArgument', 'a KMSMasterKeyID is only valid with aws:kms encryption');
  await setBucketSettings(ctx, { encryption: 'AES256' });
  return emptyResponse(200);
}

async function deleteBucketEncryption(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'encryption');
  return emptyResponse(204);
}

export const bucketEncryptionRoutes: S3Route[] = [
  {
    operation: 'GetBucketEncryption',
    method: 'GET',
    level: 'bucket',
    param: 'encryption',
    handle: getBucketEncryption,
  },
  {
    operation: 'PutBucketEncryption',
    method: 'PUT',
    level: 'bucket',
    param: 'encryption',
    handle: putBucketEncryption,
  },
  {
    operation: 'DeleteBucketEncryption',
    method: 'DELETE',
    level: 'bucket',
    param: 'encryption',
    handle: deleteBucketEncryption,
  },
];
