import { describe, expect, it } from 'vitest';
import { parseCopyDirective, parseCopySource, parseCopySourceRange } from './copy.ts';
import { s3ErrorCode } from './testing/error-code.ts';

describe('parseCopySource', () => {
  it('decodes bucket, key and versionId once, keeping + literal', () => {
    expect(parseCopySource('/bkt/a%20b/c+d%2Be')).toEqual({ bucket: 'bkt', key: 'a b/c+d+e' });
    expect(parseCopySource('bkt/dir/../x')).toEqual({ bucket: 'bkt', key: 'dir/../x' });
    expect(parseCopySource('bkt/%3Fq%E2%82%AC?versionId=v%2B1')).toEqual({
      bucket: 'bkt',
      key: '?q€',
      versionId: 'v+1',
    });
    expect(parseCopySource('bkt//lead')).toEqual({ bucket: 'bkt', key: '/lead' });
  });

  it('rejects sources without a bucket or key', () => {
    for (const bad of ['bkt', '/bkt/', '/', '', '/bkt?versionId=1', 'bkt/k?other=1']) {
      expect(
        s3ErrorCode(() => parseCopySource(bad)),
        bad,
      ).toBe('InvalidArgument');
    }
    expect(s3ErrorCode(() => parseCopySource('Bad_Bucket/k'))).toBe('InvalidBucketName');
  });
});

describe('parseCopySourceRange', () => {
  it('accepts in-range byte ranges', () => {
    expect(parseCopySourceRange('bytes=0-9', 10)).toEqual({ start: 0, end: 9 });
  });
  it('rejects malformed and out-of-range values', () => {
    expect(s3ErrorCode(() => parseCopySourceRange('bytes=5-', 10))).toBe('InvalidArgument');
    expect(s3ErrorCode(() => parseCopySourceRange('bytes=5-4', 10))).toBe('InvalidArgument');
    expect(s3ErrorCode(() => parseCopySourceRange('0-4', 10))).toBe('InvalidArgument');
    expect(s3ErrorCode(() => parseCopySourceRange('bytes=0-10', 10))).toBe('InvalidRange');
  });
});

describe('parseCopyDirective', () => {
  it('defaults to COPY and validates', () => {
    expect(parseCopyDirective(undefined, 'x-amz-metadata-directive')).toBe('COPY');
    expect(parseCopyDirective('replace', 'x-amz-metadata-directive')).toBe('REPLACE');
    expect(s3ErrorCode(() => parseCopyDirective('MERGE', 'x-amz-metadata-directive'))).toBe(
      'InvalidArgument',
    );
  });
});
