import { describe, expect, it } from 'vitest';
import { bucketNameProblem, parseS3Path, validateBucketName, validateObjectKey } from './names.ts';
import { s3ErrorCode } from './testing/error-code.ts';

describe('bucket names', () => {
  it('accepts valid names', () => {
    for (const n of ['abc', 'my-bucket', 'my.bucket.1', 'a'.repeat(63), '1bucket', 'bucket9', 'xn-a-b']) {
      expect(bucketNameProblem(n)).toBeUndefined();
    }
  });

  it('rejects invalid names with InvalidBucketName', () => {
    for (const n of [
      'ab',
      'a'.repeat(64),
      'My-Bucket',
      'my_bucket',
      '-bucket',
      'bucket-',
      '.bucket',
      'bucket.',
      'my..bucket',
      'my.-bucket',
      'my-.bucket',
      '192.168.5.4',
      'xn--bucket',
      'sthree-bucket',
      'amzn-s3-demo-bucket',
      'bucket-s3alias',
      'bucket--ol-s3',
      'bucket.mrap',
      'bucket--x-s3',
      'bucket--table-s3',
      'bück',
      'a b',
      '',
    ]) {
      expect(
        s3ErrorCode(() => validateBucketName(n)),
        n,
      ).toBe('InvalidBucketName');
    }
  });
});

describe('object keys', () => {
  it('accepts unusual but legal keys, up to 1024 UTF-8 bytes', () => {
    for (const k of [
      'a',
      '/lead',
      'trail/',
      'a/../b',
      './x',
      '//x',
      'a+b',
      '100%',
      'sp ace',
      'ctl\u0001',
      '😀',
      'é'.repeat(512),
    ]) {
      expect(
        s3ErrorCode(() => validateObjectKey(k)),
        k,
      ).toBe('ok');
    }
    expect(s3ErrorCode(() => validateObjectKey('k'.repeat(1024)))).toBe('ok');
  });

  it('rejects empty, too long and invalid UTF-8 keys', () => {
    expect(s3ErrorCode(() => validateObjectKey(''))).toBe('InvalidArgument');
    expect(s3ErrorCode(() => validateObjectKey('k'.repeat(1025)))).toBe('KeyTooLongError');
    expect(s3ErrorCode(() => validateObjectKey('é'.repeat(513)))).toBe('KeyTooLongError');
    expect(s3ErrorCode(() => validateObjectKey('a\ud800b'))).toBe('InvalidArgument');
    expect(s3ErrorCode(() => validateObjectKey('\udc00'))).toBe('InvalidArgument');
  });
});

describe('parseS3Path', () => {
  it('splits path-style without normalising', () => {
    expect(parseS3Path('/')).toEqual({});
    expect(parseS3Path('/bkt')).toEqual({ bucket: 'bkt' });
    expect(parseS3Path('/bkt/')).toEqual({ bucket: 'bkt' });
    expect(parseS3Path('/bkt/a/../b')).toEqual({ bucket: 'bkt', key: 'a/../b' });
    expect(parseS3Path('/bkt//lead')).toEqual({ bucket: 'bkt', key: '/lead' });
    expect(parseS3Path('/bkt/a+b%20c%2Bd%25')).toEqual({ bucket: 'bkt', key: 'a+b c+d%' });
    expect(parseS3Path('/bkt/%E2%82%AC%2F%2e%2e')).toEqual({ bucket: 'bkt', key: '€/..' });
    expect(parseS3Path('/bkt/100%')).toEqual({ bucket: 'bkt', key: '100%' });
  });

  it('handles virtual-hosted paths', () => {
    expect(parseS3Path('/', 'bkt')).toEqual({ bucket: 'bkt' });
    expect(parseS3Path('//x/y', 'bkt')).toEqual({ bucket: 'bkt', key: '/x/y' });
  });

  it('rejects invalid UTF-8 after decoding', () => {
    expect(s3ErrorCode(() => parseS3Path('/bkt/%FF'))).toBe('InvalidArgument');
  });
});
