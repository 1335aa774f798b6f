// SigV4 canonical request pieces for S3. Invariant: the canonical URI is built from the path
// exactly as sent, never normalised (S3 does not collapse `..` or `//`), and each byte is
// encoded once; the canonical query keeps every parameter (including `x-id` and empty `uploads=`).
//
// Hazard: clients differ in which characters they leave unencoded in the path (`!*'()` for
// example) and in hex case. Re-encoding each decoded segment gives the canonical form S3
// computes; the raw path is kept as a second candidate for clients that signed exactly what they
// sent.

import { hash } from 'node:crypto';
import { decodeHeaderText } from '../header-text.ts';
import type { QueryParam } from '../query.ts';
import { percentDecodeBytes, uriEncodeBytes } from '../uri.ts';

// Per-byte class for the already-canonical test: 1 = unreserved (kept as is), 2 = `%`, 3 = `/`.
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  CLASS[c] = /[A-Za-z0-9\-._~]/.test(ch) ? 1 : ch === '%' ? 2 : ch === '/' ? 3 : 0;
}

function upperHexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * True when decoding `s` and SigV4-encoding the bytes again gives `s` itself: only unreserved
 * characters and upper-case `%XX` escapes of bytes that must stay escaped (and `/` when
 * `allowSlash`). Clients send canonical text almost always, so the decode/encode is skipped.
 * Hazard: `%41` or `%7e` decode to unreserved bytes and re-encode differently; they fail here.
 */
function isCanonicalEncoded(s: string, allowSlash: boolean): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const k = c < 128 ? CLASS[c]! : 0;
    if (k === 1 || (k === 3 && allowSlash)) continue;
    if (k !== 2 || i + 2 >= n) return false;
    const hi = upperHexVal(s.charCodeAt(i + 1));
    const lo = upperHexVal(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return false;
    const b = (hi << 4) | lo;
    if (b < 128 && CLASS[b] === 1) return false;
    i += 2;
  }
  return true;
}

/** Canonical URI candidates for a raw path: the S3-canonical encoding first, then the raw path if different. */
export function canonicalUriCandidates(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  if (isCanonicalEncoded(path, true)) return [path];
  const canonical = path
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecodeBytes(segment)))
    .join('/');
  return canonical === path ? [canonical] : [canonical, path];
}

/** One query component (name or value) decoded with `+` as space, then SigV4-encoded. */
function canonicalQueryComponent(raw: string): string {
  if (raw.indexOf('+') === -1 && isCanonicalEncoded(raw, false)) return raw;
  return uriEncodeBytes(percentDecodeBytes(raw, true));
}

/** The parameter name as `parseQueryParams` decodes it (leniently), for `omitParam`. */
function decodedName(rawName: string): string {
  return rawName.includes('%') || rawName.includes('+')
    ? percentDecodeBytes(rawName, true).toString('utf8')
    : rawName;
}

function comparePairs(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

/**
 * Canonical query string: every pair decoded then SigV4-encoded, sorted by name then value.
 * `params` = `parseQueryParams(rawQuery)` when the caller has it: a query that is already in
 * canonical order (what SDKs send) is then built in one pass with no pair arrays.
 */
export function canonicalQueryString(
  rawQuery: string,
  omitParam?: string,
  params?: readonly QueryParam[],
): string {
  if (rawQuery === '') return '';
  if (params !== undefined) {
    let out = '';
    let prevName: string | undefined;
    let prevValue = '';
    let inOrder = true;
    for (const p of params) {
      if (omitParam !== undefined && p.name === omitParam) continue;
      const name = canonicalQueryComponent(p.rawName);
      const value = p.rawValue === undefined ? '' : canonicalQueryComponent(p.rawValue);
      if (prevName !== undefined && (prevName > name || (prevName === name && prevValue > value))) {
        inOrder = false;
        break;
      }
      out += prevName === undefined ? `${name}=${value}` : `&${name}=${value}`;
      prevName = name;
      prevValue = value;
    }
    if (inOrder) return out;
  }
  const pairs: [string, string][] = [];
  let sorted = true;
  let start = 0;
  const n = rawQuery.length;
  while (start <= n) {
    let end = rawQuery.indexOf('&', start);
    if (end === -1) end = n;
    if (end > start) {
      const eq = rawQuery.indexOf('=', start);
      const hasValue = eq !== -1 && eq < end;
      const rawName = rawQuery.slice(start, hasValue ? eq : end);
      if (omitParam === undefined || decodedName(rawName) !== omitParam) {
        const pair: [string, string] = [
          canonicalQueryComponent(rawName),
          hasValue ? canonicalQueryComponent(rawQuery.slice(eq + 1, end)) : '',
        ];
        if (sorted && pairs.length > 0 && comparePairs(pairs[pairs.length - 1]!, pair) > 0) sorted = false;
        pairs.push(pair);
      }
    }
    start = end + 1;
  }
  // Encoded strings are ASCII, so code-unit order equals byte order as SigV4 requires. SDKs send
  // presigned queries already sorted: the sort is skipped then.
  if (!sorted) pairs.sort(comparePairs);
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    out += i === 0 ? `${p[0]}=${p[1]}` : `&${p[0]}=${p[1]}`;
  }
  return out;
}

// Anything the trim/collapse below could change: a non-printable or non-ASCII character (`\s`
// includes U+00A0 and other Unicode spaces), two spaces in a row, or a space at either end.
const NEEDS_HEADER_CLEANUP = /[^\x21-\x7e ]| {2}|^ | $/;

/**
 * `name:value\n` for each signed header (values trimmed, inner whitespace runs collapsed). Values
 * arrive as node:http's latin1 strings; non-ASCII ones are signed as the text decodeHeaderText
 * reads (its UTF-8 is hashed), which is what SDKs sign whether node sent the text as UTF-8 or as
 * latin1 bytes, and what a raw UTF-8 sender signs (its bytes).
 */
export function canonicalHeadersBlock(
  headers: Readonly<Record<string, string | undefined>>,
  signedHeaders: readonly string[],
): string {
  let out = '';
  for (const name of signedHeaders) {
    const value = headers[name] ?? '';
    // Printable ASCII with single spaces only and no edge spaces is already canonical.
    out += `${name}:${NEEDS_HEADER_CLEANUP.test(value) ? decodeHeaderText(value).trim().replace(/\s+/g, ' ') : value}\n`;
  }
  return out;
}

/** Lower-case hex SHA-256 of a UTF-8 string (one-shot `hash()`: no Hash object per call). */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
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
