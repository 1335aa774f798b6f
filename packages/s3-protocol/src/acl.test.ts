import { describe, expect, it } from 'vitest';
import { checkAclHeaders, checkAclPolicy } from './acl.ts';
import type { S3Error } from './errors.ts';

function codeOf(headers: Record<string, string>, target: 'object' | 'bucket'): string {
  try {
    checkAclHeaders(headers, target);
    return 'ok';
  } catch (e) {
    return `${(e as S3Error).status} ${(e as S3Error).code}`;
  }
}

describe('checkAclHeaders (ACLs disabled, bucket owner enforced)', () => {
  it('accepts no ACL, private and bucket-owner-full-control', () => {
    for (const target of ['object', 'bucket'] as const) {
      expect(codeOf({}, target)).toBe('ok');
      expect(codeOf({ 'x-amz-acl': 'private' }, target)).toBe('ok');
      expect(codeOf({ 'x-amz-acl': 'bucket-owner-full-control' }, target)).toBe('ok');
    }
  });

  it('refuses other canned ACLs and explicit grants with the error S3 gives for the target', () => {
    for (const acl of ['public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read']) {
      expect(codeOf({ 'x-amz-acl': acl }, 'object')).toBe('400 AccessControlListNotSupported');
      expect(codeOf({ 'x-amz-acl': acl }, 'bucket')).toBe('400 InvalidBucketAclWithObjectOwnership');
    }
    expect(
      codeOf({ 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' }, 'object'),
    ).toBe('400 AccessControlListNotSupported');
    expect(codeOf({ 'x-amz-grant-full-control': 'id="abc"' }, 'bucket')).toBe(
      '400 InvalidBucketAclWithObjectOwnership',
    );
  });

  it('an unknown canned ACL is InvalidArgument', () => {
    expect(codeOf({ 'x-amz-acl': 'everyone' }, 'object')).toBe('400 InvalidArgument');
  });
});

describe('checkAclPolicy (PutBucketAcl / PutObjectAcl bodies)', () => {
  const owner = 'abc123';
  const policy = (grants: string) =>
    `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${owner}</ID></Owner><AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`;
  const grant = (id: string, permission: string) =>
    `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${id}</ID></Grantee><Permission>${permission}</Permission></Grant>`;
  const code = (body: string): string => {
    try {
      checkAclPolicy(body, owner);
      return 'ok';
    } catch (e) {
      return (e as S3Error).code;
    }
  };

  it("accepts the owner's full control only", () => {
    expect(code(policy(grant(owner, 'FULL_CONTROL')))).toBe('ok');
    expect(code(policy(''))).toBe('ok');
    expect(code(policy(grant('someone-else', 'FULL_CONTROL')))).toBe('AccessControlListNotSupported');
    expect(code(policy(grant(owner, 'READ')))).toBe('AccessControlListNotSupported');
    const allUsers =
      '<Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>';
    expect(code(policy(grant(owner, 'FULL_CONTROL') + allUsers))).toBe('AccessControlListNotSupported');
    expect(code('<Nope/>')).toBe('MalformedACLError');
    expect(code('not xml')).toBe('MalformedACLError');
  });
});
