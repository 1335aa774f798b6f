import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { encodeListingValue, parseEncodingType, parseMaxKeys } from './listing.ts';
import { escapeXmlText } from './xml.ts';

const KEYS = [
  'plain/key.txt',
  'a+b',
  'a b',
  '100%',
  '%2B',
  '+ +',
  'dir/sub dir/f',
  'test_file(3).png',
  'ünï/😀/日本',
  'ctl\u0001\u0000\r\n\t',
  "!*'()~",
  'q?x#y&z=1;',
  '',
];

describe('encodeListingValue', () => {
  it('encodes like S3: unreserved and / kept, space as +, others %XX', () => {
    expect(encodeListingValue('plain/key-1_2.3~')).toBe('plain/key-1_2.3~');
    expect(encodeListingValue('a b+c')).toBe('a+b%2Bc');
    expect(encodeListingValue('100%')).toBe('100%25');
    expect(encodeListingValue('test_file(3).png')).toBe('test_file%283%29.png');
    expect(encodeListingValue('é')).toBe('%C3%A9');
    expect(encodeListingValue('\u0001')).toBe('%01');
  });

  it('produces XML-safe ASCII that decodeURIComponent-with-plus inverts', () => {
    for (const k of KEYS) {
      const enc = encodeListingValue(k);
      expect(/^[\x21-\x7e]*$/.test(enc), k).toBe(true);
      expect(escapeXmlText(enc)).toBe(enc);
      expect(decodeURIComponent(enc.replaceAll('+', ' '))).toBe(k);
    }
  });

  it("round-trips through botocore's unquote_plus", () => {
    const encoded = KEYS.map(encodeListingValue);
    const py = spawnSync(
      'python3',
      [
        '-c',
        'import sys,json; from urllib.parse import unquote_plus; print(json.dumps([unquote_plus(x) for x in json.load(sys.stdin)]))',
      ],
      { input: JSON.stringify(encoded), encoding: 'utf8' },
    );
    expect(py.status, py.stderr).toBe(0);
    expect(JSON.parse(py.stdout)).toEqual(KEYS);
  });
});

describe('listing parameters', () => {
  it('validates encoding-type', () => {
    expect(parseEncodingType(undefined)).toBe(false);
    expect(parseEncodingType('url')).toBe(true);
    expect(() => parseEncodingType('base64')).toThrow(S3Error);
  });

  it('validates max-keys', () => {
    expect(parseMaxKeys(undefined)).toBe(1000);
    expect(parseMaxKeys('0')).toBe(0);
    expect(parseMaxKeys('5')).toBe(5);
    expect(parseMaxKeys('5000')).toBe(1000);
    for (const bad of ['-1', 'abc', '1.5', '99999999999999999999']) {
      expect(() => parseMaxKeys(bad), bad).toThrow(S3Error);
    }
  });
});
