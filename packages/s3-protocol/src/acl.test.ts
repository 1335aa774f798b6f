import { describe, expect, it } from 'vitest';
import { checkAclHeaders } from './acl.ts';
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
