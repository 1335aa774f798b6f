import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { parseQuery, parseQueryParams } from './query.ts';

describe('query parsing', () => {
  it('keeps presence, order and raw text; decodes + as space', () => {
    const params = parseQueryParams('uploads&x-id=CreateMultipartUpload&prefix=a+b%2Bc&&delete=');
    expect(params.map((p) => [p.name, p.value, p.rawValue])).toEqual([
      ['uploads', '', undefined],
      ['x-id', 'CreateMultipartUpload', 'CreateMultipartUpload'],
      ['prefix', 'a b+c', 'a+b%2Bc'],
      ['delete', '', ''],
    ]);
    expect(parseQuery('a=1&a=2&b').get('a')).toBe('1');
    expect(parseQuery('').size).toBe(0);
  });

  it('decodes values lazily: a non-UTF-8 value fails only when read', () => {
    const params = parseQueryParams('prefix=%FF&list-type=2');
    expect(params[1]!.value).toBe('2');
    expect(() => params[0]!.value).toThrow(S3Error);
  });
});
