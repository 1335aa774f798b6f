// Range and conditional-request rules for GetObject/HeadObject (RFC 7233 / RFC 7232 as S3 applies
// them). Invariant: an unparsable Range is ignored (whole object, 200), a syntactically valid but
// unsatisfiable one is 416 with `Content-Range: bytes */<size>`; S3 serves one range only.
import { formatHttpDate, parseHttpDate, S3Error } from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import type { Headers } from './context.ts';

/** A byte range [start, end) within the object. */
export type ByteRange = { start: number; end: number };

export function selectRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const unsatisfiable = () =>
    new S3Error('InvalidRange', undefined, {
      headers: { 'content-range': `bytes */${size}` },
      extra: { RangeRequested: header, ActualObjectSize: String(size) },
    });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end: Math.min(last, size - 1) + 1 };
}

function etagMatches(list: string, etag: string): boolean {
  return list
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === `"${etag}"` || t === etag);
}

/** Seconds resolution: HTTP dates carry no milliseconds. */
function modifiedAfter(head: ObjectHead, date: Date): boolean {
  return Math.floor(head.lastModifiedMs / 1000) > Math.floor(date.getTime() / 1000);
}

/** Throws PreconditionFailed (412) or NotModified (304) per RFC 7232 §6 precedence. */
export function checkReadConditions(headers: Headers, head: ObjectHead): void {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  const ifModifiedSince = headers['if-modified-since'];
  const ifUnmodifiedSince = headers['if-unmodified-since'];
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, head.etag)) {
      throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: 'If-Match' } });
    }
  } else if (ifUnmodifiedSince !== undefined) {
    const date = parseHttpDate(ifUnmodifiedSince);
    if (date && modifiedAfter(head, date)) {
      throw new S3Error('PreconditionFailed', undefined, { extra: { Condition: 'If-Unmodified-Since' } });
    }
  }
  const notModified = () =>
    new S3Error('NotModified', undefined, {
      headers: { etag: `"${head.etag}"`, 'last-modified': formatHttpDate(new Date(head.lastModifiedMs)) },
    });
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, head.etag)) throw notModified();
  } else if (ifModifiedSince !== undefined) {
    const date = parseHttpDate(ifModifiedSince);
    if (date && !modifiedAfter(head, date)) throw notModified();
  }
}
