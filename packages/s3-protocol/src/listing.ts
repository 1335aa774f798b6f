// `encoding-type=url` for listings. Invariant: encodeListingValue(v) decoded with form decoding
// (botocore's unquote_plus, Go's url.QueryUnescape, Java's URLDecoder) gives back v exactly, for
// every key, including `+`, `%`, spaces, control characters and non-BMP characters; and the
// output is plain ASCII, so it is always representable in XML 1.0.
//
// The encoding matches what S3 emits: RFC 3986 unreserved characters and `/` as-is, a space as
// `+`, every other UTF-8 byte as upper-case `%XX` (the S3 docs' own example: `test_file(3).png`
// → `test_file%283%29.png`).

import { S3Error } from './errors.ts';
import { parseMaxCount } from './multipart.ts';

const KEEP = new Uint8Array(256);
for (let c = 0; c < 256; c++) KEEP[c] = /[A-Za-z0-9\-._~/]/.test(String.fromCharCode(c)) ? 1 : 0;
const HEX = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).toUpperCase().padStart(2, '0')}`);
const ALL_KEPT = /^[A-Za-z0-9\-._~/]*$/;

/** Encode a Key, Prefix, Delimiter, StartAfter, Marker or CommonPrefix for an encoding-type=url listing. */
export function encodeListingValue(value: string): string {
  if (ALL_KEPT.test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (KEEP[b] === 1) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += HEX[b];
  }
  return out;
}

/**
 * Validate the `encoding-type` query parameter: undefined (absent) or 'url'; anything else is
 * InvalidArgument as S3 answers. Returns true when values must be URL-encoded.
 */
export function parseEncodingType(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value.toLowerCase() === 'url') return true;
  throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
    extra: { ArgumentName: 'encoding-type', ArgumentValue: value },
  });
}

/** Parse `max-keys` (default and cap 1000): a non-negative integer or InvalidArgument. */
export function parseMaxKeys(value: string | undefined, cap = 1000): number {
  return parseMaxCount(value, 'max-keys', cap);
}
