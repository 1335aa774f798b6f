import { describe, expect, it } from 'vitest';
import { percentDecodeBytes, percentDecodeUtf8, uriEncode } from './uri.ts';

describe('uri encoding', () => {
  it('encodes all but unreserved characters, upper-case hex, UTF-8', () => {
    expect(uriEncode('AZaz09-._~')).toBe('AZaz09-._~');
    expect(uriEncode("a b+c/d%e!*'()€")).toBe('a%20b%2Bc%2Fd%25e%21%2A%27%28%29%E2%82%AC');
    expect(uriEncode('a b/c', true)).toBe('a%20b/c');
    expect(uriEncode('')).toBe('');
  });

  it('decodes byte-exact, keeps stray % and handles + per context', () => {
    expect(percentDecodeUtf8('a%20b+c')).toBe('a b+c');
    expect(percentDecodeUtf8('a%20b+c', true)).toBe('a b c');
    expect(percentDecodeUtf8('%e2%82%ac%zz%4')).toBe('€%zz%4');
    expect([...percentDecodeBytes('%00%ff')]).toEqual([0, 255]);
    expect(() => percentDecodeUtf8('%ff')).toThrow(/UTF-8/);
  });
});
