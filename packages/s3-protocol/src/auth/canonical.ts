// SigV4 canonical request pieces for S3. Invariant: the canonical URI is built from the path
// exactly as sent, never normalised (S3 does not collapse `..` or `//`), and each byte is
// encoded once; the canonical query keeps every parameter (including `x-id` and empty `uploads=`).
//
// Hazard: clients differ in which characters they leave unencoded in the path (`!*'()` for
// example) and in hex case. Re-encoding each decoded segment gives the canonical form S3
// computes; the raw path is kept as a second candidate for clients that signed exactly what they
// sent.

import { createHash } from 'node:crypto';
import { parseQueryParams } from '../query.ts';
import { percentDecodeBytes, uriEncodeBytes } from '../uri.ts';

/** Canonical URI candidates for a raw path: the S3-canonical encoding first, then the raw path if different. */
export function canonicalUriCandidates(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  const canonical = path
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecodeBytes(segment)))
    .join('/');
  return canonical === path ? [canonical] : [canonical, path];
}

/** Canonical query string: every pair decoded then SigV4-encoded, sorted by name then value. */
export function canonicalQueryString(rawQuery: string, omitParam?: string): string {
  if (rawQuery === '') return '';
  const pairs: [string, string][] = [];
  for (const p of parseQueryParams(rawQuery)) {
    if (omitParam !== undefined && p.name === omitParam) continue;
    pairs.push([
      uriEncodeBytes(percentDecodeBytes(p.rawName, true)),
      p.rawValue === undefined ? '' : uriEncodeBytes(percentDecodeBytes(p.rawValue, true)),
    ]);
  }
  // Encoded strings are ASCII, so code-unit order equals byte order as SigV4 requires.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** `name:value\n` for each signed header (values trimmed, inner whitespace runs collapsed). */
export function canonicalHeadersBlock(
  headers: Readonly<Record<string, string | undefined>>,
  signedHeaders: readonly string[],
): string {
  let out = '';
  for (const name of signedHeaders) {
    const value = headers[name] ?? '';
    out += `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  }
  return out;
}

/** Lower-case hex SHA-256 of a UTF-8 string. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Assemble the canonical request. */
export function canonicalRequest(
  method: string,
  canonicalUri: string,
  canonicalQuery: string,
  headersBlock: string,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  return `${method}\n${canonicalUri}\n${canonicalQuery}\n${headersBlock}\n${signedHeaders.join(';')}\n${payloadHash}`;
}

/** The SigV4 string to sign for a request. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
