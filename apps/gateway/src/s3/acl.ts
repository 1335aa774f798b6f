// ACL reads and writes with ACLs disabled (Object Ownership "bucket owner enforced", S3's default
// for new buckets): GetBucketAcl / GetObjectAcl answer the one ACL there is, the owner's full
// control; PutBucketAcl / PutObjectAcl succeed only when they ask for exactly that, and otherwise
// answer AccessControlListNotSupported, as S3 does. Invariant: no request can make anything
// readable by anyone but the credentials the gateway was given.
import { checkAclHeaders, checkAclPolicy, el, validateObjectKey } from '@blobcache/s3-protocol';
import type { BucketContext, ObjectContext } from './context.ts';
import { checkVersionId } from './object-body.ts';
import { ownerElement, ownerId } from './owner.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { requireBucket, requireHead } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

function ownerFullControl(ctx: BucketContext): Response {
  const owner = ctx.auth.accessKeyId;
  const grantee = {
    name: 'Grantee',
    attributes: { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:type': 'CanonicalUser' },
    content: ownerElement(owner).content,
  };
  return xmlResponse(
    el('AccessControlPolicy', [
      ownerElement(owner),
      el('AccessControlList', [el('Grant', [grantee, el('Permission', 'FULL_CONTROL')])]),
    ]),
  );
}

/** A PUT ?acl: canned or grant headers, or an AccessControlPolicy body, owner-only in either case. */
async function checkAclRequest(ctx: BucketContext): Promise<void> {
  const headers = ctx.headers;
  const byHeader =
    headers['x-amz-acl'] !== undefined || Object.keys(headers).some((h) => h.startsWith('x-amz-grant-'));
  if (byHeader) {
    checkAclHeaders(headers, 'object');
    return;
  }
  checkAclPolicy(await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES), ownerId(ctx.auth.accessKeyId));
}

async function requireObject(ctx: ObjectContext): Promise<void> {
  validateObjectKey(ctx.key);
  checkVersionId(ctx);
  await requireHead(ctx);
}

export const aclRoutes: S3Route[] = [
  {
    operation: 'GetBucketAcl',
    method: 'GET',
    level: 'bucket',
    param: 'acl',
    handle: async (ctx: BucketContext) => {
      await requireBucket(ctx);
      return ownerFullControl(ctx);
    },
  },
  {
    operation: 'PutBucketAcl',
    method: 'PUT',
    level: 'bucket',
    param: 'acl',
    handle: async (ctx: BucketContext) => {
      await requireBucket(ctx);
      await checkAclRequest(ctx);
      return emptyResponse(200);
    },
  },
  {
    operation: 'GetObjectAcl',
    method: 'GET',
    level: 'object',
    param: 'acl',
    handle: async (ctx: ObjectContext) => {
      await requireObject(ctx);
      return ownerFullControl(ctx);
    },
  },
  {
    operation: 'PutObjectAcl',
    method: 'PUT',
    level: 'object',
    param: 'acl',
    handle: async (ctx: ObjectContext) => {
      await requireObject(ctx);
      await checkAclRequest(ctx);
      return emptyResponse(200);
    },
  },
];
