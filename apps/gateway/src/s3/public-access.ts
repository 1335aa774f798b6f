// Block Public Access (Put/Get/DeletePublicAccessBlock) and Object Ownership
// (Get/PutBucketOwnershipControls), the two settings Terraform modules put on nearly every bucket.
// Block Public Access is stored with the bucket and enforced where it has something to act on:
//   - BlockPublicPolicy: PutBucketPolicy refuses a public policy (403 AccessDenied, as S3);
//   - RestrictPublicBuckets: while the policy is public, the anonymous public gets nothing from it
//     (authorize.ts);
//   - BlockPublicAcls / IgnorePublicAcls hold already: ACLs are disabled (bucket owner enforced),
//     so a public ACL can neither be set nor exist (acl.ts).
// Object Ownership is fixed at BucketOwnerEnforced (ACLs disabled): putting that is accepted,
// any other mode would need ACLs and answers 501.
import {
  el,
  parseOwnershipControls,
  parsePublicAccessBlock,
  publicAccessBlockXml,
  S3Error,
} from '@blobcache/s3-protocol';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { clearBucketSetting, requireBucket, setBucketSettings } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

async function getPublicAccessBlock(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  if (record.publicAccessBlock === undefined)
    throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, {
      extra: { BucketName: ctx.bucket },
    });
  return xmlResponse(publicAccessBlockXml(record.publicAccessBlock));
}

async function putPublicAccessBlock(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true });
  const publicAccessBlock = parsePublicAccessBlock(body);
  await setBucketSettings(ctx, { publicAccessBlock });
  return emptyResponse(200);
}

async function deletePublicAccessBlock(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'publicAccessBlock');
  return emptyResponse(204);
}

async function getOwnershipControls(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  return xmlResponse(el('OwnershipControls', [el('Rule', [el('ObjectOwnership', 'BucketOwnerEnforced')])]));
}

async function putOwnershipControls(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const ownership = parseOwnershipControls(await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES));
  if (ownership !== 'BucketOwnerEnforced')
    throw new S3Error(
      'NotImplemented',
      `blobcache does not implement Object Ownership ${ownership} (ACLs are disabled)`,
    );
  return emptyResponse(200);
}

export const publicAccessRoutes: S3Route[] = [
  {
    operation: 'GetPublicAccessBlock',
    method: 'GET',
    level: 'bucket',
    param: 'publicAccessBlock',
    handle: getPublicAccessBlock,
  },
  {
    operation: 'PutPublicAccessBlock',
    method: 'PUT',
    level: 'bucket',
    param: 'publicAccessBlock',
    handle: putPublicAccessBlock,
  },
  {
    operation: 'DeletePublicAccessBlock',
    method: 'DELETE',
    level: 'bucket',
    param: 'publicAccessBlock',
    handle: deletePublicAccessBlock,
  },
  {
    operation: 'GetBucketOwnershipControls',
    method: 'GET',
    level: 'bucket',
    param: 'ownershipControls',
    handle: getOwnershipControls,
  },
  {
    operation: 'PutBucketOwnershipControls',
    method: 'PUT',
    level: 'bucket',
    param: 'ownershipControls',
    handle: putOwnershipControls,
  },
];
