// Percent-encoding and -decoding as S3 does it. Invariant: decoding is byte-exact (a `%XX`
// sequence is one byte; the bytes must form valid UTF-8) and never normalises: `+` in a path is a
// plus, `..` and `//` are kept. Encoding follows RFC 3986 unreserved characters (SigV4 rules).

import { S3Error } from './errors.ts';

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

const HEX = Array.from({ length: 256 }, (_, i) => `%${i.toString(16).toUpperCase().padStart(2, '0')}`);

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decode `%XX` escapes to bytes. A `%` not followed by two hex digits stays literal.
 * With `plusAsSpace` (query strings), `+` decodes to a space.
 */
export function percentDecodeBytes(s: string, plusAsSpace = false): Buffer {
  const src = Buffer.from(s, 'utf8');
  if (!src.includes(0x25) && !(plusAsSpace && src.includes(0x2b))) return src;
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length) {
      const hi = hexVal(src[i + 1]!);
      const lo = hexVal(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[o++] = plusAsSpace && c === 0x2b ? 0x20 : c;
  }
  return out.subarray(0, o);
}

/**
 * Decode a percent-encoded string whose bytes must be UTF-8. Invalid UTF-8 → S3Error
 * InvalidArgument (`what` names the part of the request for the message).
 */
export function percentDecodeUtf8(s: string, plusAsSpace = false, what = 'URI'): string {
  if (!s.includes('%') && !(plusAsSpace && s.includes('+'))) return s;
  const bytes = percentDecodeBytes(s, plusAsSpace);
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    throw new S3Error('InvalidArgument', `The ${what} contains a byte sequence that is not valid UTF-8`);
  }
}

// RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~
const UNRESERVED = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  UNRESERVED[c] = /[A-Za-z0-9\-._~]/.test(ch) ? 1 : 0;
}

/** SigV4 URI encoding of raw bytes: unreserved characters as-is, every other byte `%XX` upper-case. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash = false): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (UNRESERVED[c] === 1 || (keepSlash && c === 0x2f)) continue;
    if (i > runStart)
      out += Buffer.from(bytes.buffer, bytes.byteOffset + runStart, i - runStart).toString('latin1');
    out += HEX[c];
    runStart = i + 1;
  }
  if (runStart === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (runStart < bytes.length) {
    out += Buffer.from(bytes.buffer, bytes.byteOffset + runStart, bytes.length - runStart).toString('latin1');
  }
  return out;
}

const ALL_UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/** SigV4 URI encoding of a string's UTF-8 bytes (`keepSlash` leaves `/` alone, for paths). */
export function uriEncode(s: string, keepSlash = false): string {
  if (ALL_UNRESERVED.test(s)) return s;
  return uriEncodeBytes(Buffer.from(s, 'utf8'), keepSlash);
}
