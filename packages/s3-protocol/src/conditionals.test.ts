import { describe, expect, it } from 'vitest';
import {
  evaluateCopySourceConditionals,
  evaluateDeleteConditionals,
  evaluateReadConditionals,
  evaluateWriteConditionals,
} from './conditionals.ts';
import { S3Error } from './errors.ts';
import { s3ErrorCode } from './testing/error-code.ts';

const obj = { etag: '"abc"', lastModified: new Date(Date.UTC(2020, 0, 1, 12, 0, 0, 500)) };
const before = 'Wed, 01 Jan 2020 11:00:00 GMT';
const same = 'Wed, 01 Jan 2020 12:00:00 GMT';
const after = 'Wed, 01 Jan 2020 13:00:00 GMT';

function outcome(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return String(e.status);
    throw e;
  }
  return '200';
}
const read = (h: Record<string, string>): string => outcome(() => evaluateReadConditionals(h, obj));
const copy = (h: Record<string, string>): string => outcome(() => evaluateCopySourceConditionals(h, obj));

describe('read conditionals (GET/HEAD)', () => {
  it('If-Match', () => {
    expect(read({ 'if-match': '"abc"' })).toBe('200');
    expect(read({ 'if-match': 'abc' })).toBe('200');
    expect(read({ 'if-match': '*' })).toBe('200');
    expect(read({ 'if-match': '"x", "abc"' })).toBe('200');
    expect(read({ 'if-match': '"x"' })).toBe('412');
  });

  it('If-None-Match', () => {
    expect(read({ 'if-none-match': '"abc"' })).toBe('304');
    expect(read({ 'if-none-match': '*' })).toBe('304');
    expect(read({ 'if-none-match': '"x"' })).toBe('200');
  });

  it('dates at second granularity', () => {
    expect(read({ 'if-modified-since': before })).toBe('200');
    expect(read({ 'if-modified-since': same })).toBe('304');
    expect(read({ 'if-modified-since': after })).toBe('304');
    expect(read({ 'if-unmodified-since': before })).toBe('412');
    expect(read({ 'if-unmodified-since': same })).toBe('200');
    expect(read({ 'if-modified-since': 'not a date' })).toBe('200');
  });

  it('follows RFC 7232 precedence as S3 documents it', () => {
    // If-Match true + If-Unmodified-Since false → 200.
    expect(read({ 'if-match': '"abc"', 'if-unmodified-since': before })).toBe('200');
    // If-None-Match false (it matches) + If-Modified-Since true → 304.
    expect(read({ 'if-none-match': '"abc"', 'if-modified-since': before })).toBe('304');
    // If-None-Match true (no match) + If-Modified-Since false → 200 (date ignored).
    expect(read({ 'if-none-match': '"x"', 'if-modified-since': after })).toBe('200');
    // If-Match fails before If-None-Match is considered.
    expect(read({ 'if-match': '"x"', 'if-none-match': '"abc"' })).toBe('412');
  });

  it('304 carries ETag and Last-Modified', () => {
    try {
      evaluateReadConditionals({ 'if-none-match': '"abc"' }, obj);
    } catch (e) {
      expect((e as S3Error).code).toBe('NotModified');
      expect((e as S3Error).headers).toEqual({
        etag: '"abc"',
        'last-modified': 'Wed, 01 Jan 2020 12:00:00 GMT',
      });
    }
  });
});

describe('copy-source conditionals', () => {
  it('fail with 412 in every case', () => {
    expect(copy({ 'x-amz-copy-source-if-match': '"abc"' })).toBe('200');
    expect(copy({ 'x-amz-copy-source-if-match': '"x"' })).toBe('412');
    expect(copy({ 'x-amz-copy-source-if-none-match': '"abc"' })).toBe('412');
    expect(copy({ 'x-amz-copy-source-if-modified-since': after })).toBe('412');
    expect(copy({ 'x-amz-copy-source-if-unmodified-since': before })).toBe('412');
    expect(
      copy({ 'x-amz-copy-source-if-match': '"abc"', 'x-amz-copy-source-if-unmodified-since': before }),
    ).toBe('200');
    expect(
      copy({ 'x-amz-copy-source-if-none-match': '"abc"', 'x-amz-copy-source-if-modified-since': before }),
    ).toBe('412');
  });
});

describe('write conditionals', () => {
  const write = (h: Record<string, string>, current: typeof obj | undefined): string =>
    outcome(() => evaluateWriteConditionals(h, current));
  it('If-None-Match: * and If-Match on PUT', () => {
    expect(write({ 'if-none-match': '*' }, undefined)).toBe('200');
    expect(write({ 'if-none-match': '*' }, obj)).toBe('412');
    expect(write({ 'if-none-match': '"abc"' }, obj)).toBe('501');
    expect(write({ 'if-match': '"abc"' }, obj)).toBe('200');
    expect(write({ 'if-match': '"x"' }, obj)).toBe('412');
    expect(write({ 'if-match': '"abc"' }, undefined)).toBe('404');
    expect(write({}, obj)).toBe('200');
  });

  it('names the key in the NoSuchKey of an If-Match write on a missing key', () => {
    try {
      evaluateWriteConditionals({ 'if-match': '"abc"' }, undefined, 'photos/cat.jpg');
      expect.unreachable();
    } catch (e) {
      expect((e as S3Error).code).toBe('NoSuchKey');
      expect((e as S3Error).extra).toEqual({ Key: 'photos/cat.jpg' });
    }
  });
});

describe('evaluateDeleteConditionals', () => {
  const current = { etag: 'abc', lastModified: new Date('2026-01-02T03:04:05.678Z'), size: 42 };
  /** `missing` true: the object does not exist. */
  const code = (headers: Record<string, string>, missing = false) =>
    s3ErrorCode(() => evaluateDeleteConditionals(headers, missing ? undefined : current, 'k'));

  it('deletes when every condition holds', () => {
    expect(code({})).toBe('ok');
    expect(code({ 'if-match': '"abc"' })).toBe('ok');
    expect(code({ 'if-match': '*' })).toBe('ok');
    expect(code({ 'x-amz-if-match-last-modified-time': 'Fri, 02 Jan 2026 03:04:05 GMT' })).toBe('ok');
    expect(
      code({ 'x-amz-if-match-last-modified-time': '2026-01-02T03:04:05Z', 'x-amz-if-match-size': '42' }),
    ).toBe('ok');
  });

  it('refuses a mismatch with 412, a malformed value with 400', () => {
    expect(code({ 'if-match': '"other"' })).toBe('PreconditionFailed');
    expect(code({ 'x-amz-if-match-last-modified-time': 'Fri, 02 Jan 2026 03:04:06 GMT' })).toBe(
      'PreconditionFailed',
    );
    expect(code({ 'x-amz-if-match-size': '41' })).toBe('PreconditionFailed');
    expect(code({ 'x-amz-if-match-size': 'big' })).toBe('InvalidArgument');
    expect(code({ 'x-amz-if-match-last-modified-time': 'yesterday' })).toBe('InvalidArgument');
  });

  it('answers NoSuchKey for If-Match on a missing object; the other conditions let it pass', () => {
    expect(code({ 'if-match': '"abc"' }, true)).toBe('NoSuchKey');
    expect(code({ 'x-amz-if-match-size': '1' }, true)).toBe('ok');
    expect(code({ 'x-amz-if-match-last-modified-time': '2026-01-02T03:04:05Z' }, true)).toBe('ok');
  });
});
