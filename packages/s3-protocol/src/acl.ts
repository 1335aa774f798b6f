// ACL request headers as S3 answers them with ACLs disabled (Object Ownership "bucket owner
// enforced", the default for new buckets since April 2023). Invariant: a request passes only when
// its ACL grants nothing beyond the owner's full control (no ACL, `private`, or
// `bucket-owner-full-control`); any other canned ACL or any explicit grant is refused with the
// error S3 gives, never silently ignored (the caller would believe the object is public).

import { S3Error } from './errors.ts';
import { childElements, childText, firstChild, parseXml, type XmlNode } from './xml-parse.ts';

const CANNED_ACLS: ReadonlySet<string> = new Set([
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
]);

/** Canned ACLs that mean "the owner has full control, nobody else anything". */
const OWNER_ONLY: ReadonlySet<string> = new Set(['private', 'bucket-owner-full-control']);

const GRANT_HEADERS = [
  'x-amz-grant-full-control',
  'x-amz-grant-read',
  'x-amz-grant-read-acp',
  'x-amz-grant-write',
  'x-amz-grant-write-acp',
] as const;

type Headers = Readonly<Record<string, string | undefined>>;

/**
 * Refuses ACLs an ACL-less store cannot honour: on objects (PutObject, CopyObject,
 * CreateMultipartUpload) with AccessControlListNotSupported, on CreateBucket with
 * InvalidBucketAclWithObjectOwnership; an unknown canned ACL is InvalidArgument.
 */
export function checkAclHeaders(headers: Headers, target: 'object' | 'bucket'): void {
  const refuse = (): S3Error =>
    new S3Error(
      target === 'object' ? 'AccessControlListNotSupported' : 'InvalidBucketAclWithObjectOwnership',
    );
  const acl = headers['x-amz-acl'];
  if (acl !== undefined) {
    const value = acl.trim();
    if (!CANNED_ACLS.has(value)) {
      throw new S3Error('InvalidArgument', undefined, {
        extra: { ArgumentName: 'x-amz-acl', ArgumentValue: acl },
      });
    }
    if (!OWNER_ONLY.has(value)) throw refuse();
  }
  if (GRANT_HEADERS.some((h) => headers[h] !== undefined)) throw refuse();
}

/**
 * A PutBucketAcl / PutObjectAcl body (`<AccessControlPolicy>`): passes only when every grant gives
 * FULL_CONTROL to the owner (`ownerId`), the one ACL an ACL-less store already has; anything else
 * is AccessControlListNotSupported, as S3 answers with ACLs disabled. An unparsable body is
 * MalformedACLError.
 */
export function checkAclPolicy(body: string | Uint8Array, ownerId: string): void {
  let root: XmlNode;
  try {
    root = parseXml(body);
  } catch {
    throw new S3Error('MalformedACLError');
  }
  if (root.name !== 'AccessControlPolicy') throw new S3Error('MalformedACLError');
  const list = firstChild(root, 'AccessControlList');
  for (const grant of list ? childElements(list, 'Grant') : []) {
    const grantee = firstChild(grant, 'Grantee');
    const id = grantee ? childText(grantee, 'ID')?.trim() : undefined;
    const permission = childText(grant, 'Permission')?.trim();
    if (id !== ownerId || permission !== 'FULL_CONTROL') throw new S3Error('AccessControlListNotSupported');
  }
}
