import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { etagsMatch, md5Etag, multipartEtag, normalizeEtag, parseEtagList, quoteEtag } from './etag.ts';

const md5 = (s: string): Buffer => createHash('md5').update(s).digest();

describe('etags', () => {
  it('quotes single-upload MD5 etags', () => {
    expect(md5Etag(md5(''))).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });

  it('computes multipart etags from the binary part MD5s', () => {
    const parts = [md5('part1'), md5('part2')];
    const expected = createHash('md5').update(Buffer.concat(parts)).digest('hex');
    expect(multipartEtag(parts)).toBe(`"${expected}-2"`);
    // Not the MD5 of the hex strings, nor of the whole object.
    expect(multipartEtag(parts)).not.toBe(`"${createHash('md5').update('part1part2').digest('hex')}-2"`);
  });

  it('normalizes, quotes and compares', () => {
    expect(normalizeEtag('W/"abc"')).toBe('abc');
    expect(normalizeEtag(' "abc-2" ')).toBe('abc-2');
    expect(quoteEtag('abc')).toBe('"abc"');
    expect(quoteEtag('"abc"')).toBe('"abc"');
    expect(etagsMatch('abc', '"abc"')).toBe(true);
    expect(etagsMatch('abc', '"abd"')).toBe(false);
  });

  it('parses If-Match lists', () => {
    expect(parseEtagList('"a", "b",W/"c"')).toEqual(['a', 'b', 'c']);
    expect(parseEtagList('*')).toEqual(['*']);
    expect(parseEtagList('abc')).toEqual(['abc']);
    expect(parseEtagList('')).toEqual([]);
  });
});
