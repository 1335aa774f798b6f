import { describe, expect, it } from 'vitest';
import { canonicalHeadersBlock } from './auth/canonical.ts';
import { canonicalizedAmzHeaders } from './auth/sigv2.ts';
import { decodeHeaderText, encodeHeaderText } from './header-text.ts';

/** What node:http hands over for these bytes: one latin1 char per byte. */
const wire = (bytes: Buffer): string => bytes.toString('latin1');

describe('header text', () => {
  it('decodes UTF-8 bytes as UTF-8, other bytes as latin1, ASCII as is', () => {
    expect(decodeHeaderText('plain value')).toBe('plain value');
    expect(decodeHeaderText(wire(Buffer.from('日本 café €', 'utf8')))).toBe('日本 café €');
    // The JS SDK sends "café" as latin1 bytes when the body is not a string: E9 alone is not UTF-8.
    expect(decodeHeaderText(wire(Buffer.from([0x63, 0x61, 0x66, 0xe9])))).toBe('café');
    // Invalid UTF-8 in the middle of valid sequences stays latin1 as a whole.
    expect(decodeHeaderText(wire(Buffer.from([0xc3, 0xa9, 0xff])))).toBe('Ã©ÿ');
  });

  it('encodes anything but printable ASCII as one RFC 2047 B word over UTF-8; ASCII stays as sent', () => {
    expect(encodeHeaderText('plain value\twith tab')).toBe('plain value\twith tab');
    expect(encodeHeaderText('=?UTF-8?B?w6k=?=')).toBe('=?UTF-8?B?w6k=?=');
    expect(encodeHeaderText('café')).toBe(`=?UTF-8?B?${Buffer.from('café').toString('base64')}?=`);
    expect(encodeHeaderText('日本')).toBe('=?UTF-8?B?5pel5pys?=');
    expect(encodeHeaderText('\u0085')).toBe('=?UTF-8?B?woU=?=');
    expect(encodeHeaderText('a\u007fb')).toBe('=?UTF-8?B?YX9i?=');
    expect(encodeHeaderText('')).toBe('');
  });

  it('signatures cover the decoded text: SigV4 and SigV2 canonical headers hash its UTF-8', () => {
    const headers = {
      'x-amz-meta-u': wire(Buffer.from(' 日本  語 ', 'utf8')),
      'x-amz-meta-l': wire(Buffer.from([0x63, 0x61, 0x66, 0xe9])),
    };
    expect(canonicalHeadersBlock(headers, ['x-amz-meta-l', 'x-amz-meta-u'])).toBe(
      'x-amz-meta-l:café\nx-amz-meta-u:日本 語\n',
    );
    expect(canonicalizedAmzHeaders(headers)).toBe('x-amz-meta-l:café\nx-amz-meta-u:日本  語\n');
  });
});
