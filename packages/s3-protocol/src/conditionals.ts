// Conditional request headers, evaluated in RFC 7232 order with S3's outcomes. Invariant: each
// function either returns (the request proceeds) or throws the S3Error S3 answers with:
// PreconditionFailed (412), NotModified (304, reads only) or NoSuchKey (If-Match write on a
// missing object). Dates compare at one-second granularity, as HTTP dates carry.

import { parseHttpDate } from './dates.ts';
import { S3Error } from './errors.ts';
import { etagsMatch, parseEtagList, quoteEtag } from './etag.ts';
import type { DeleteObjectEntry } from './request-bodies.ts';

/** The current state of the object the condition is about. */
export interface ObjectVersion {
  etag: string;
  lastModified: Date;
}

type Headers = Readonly<Record<string, string | undefined>>;

function listMatches(header: string, etag: string): boolean {
  const list = parseEtagList(header);
  return list.includes('*') || list.some((e) => etagsMatch(e, etag));
}

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function precondition(condition: string): S3Error {
  return new S3Error('PreconditionFailed', undefined, { extra: { Condition: condition } });
}

interface Names {
  ifMatch: string;
  ifNoneMatch: string;
  ifModifiedSince: string;
  ifUnmodifiedSince: string;
}

const READ: Names = {
  ifMatch: 'if-match',
  ifNoneMatch: 'if-none-match',
  ifModifiedSince: 'if-modified-since',
  ifUnmodifiedSince: 'if-unmodified-since',
};

const COPY_SOURCE: Names = {
  ifMatch: 'x-amz-copy-source-if-match',
  ifNoneMatch: 'x-amz-copy-source-if-none-match',
  ifModifiedSince: 'x-amz-copy-source-if-modified-since',
  ifUnmodifiedSince: 'x-amz-copy-source-if-unmodified-since',
};

function evaluate(headers: Headers, object: ObjectVersion, names: Names, notModifiedIs304: boolean): void {
  const ifMatch = headers[names.ifMatch];
  const ifNoneMatch = headers[names.ifNoneMatch];
  const ifModifiedSince = headers[names.ifModifiedSince];
  const ifUnmodifiedSince = headers[names.ifUnmodifiedSince];
  const modified = seconds(object.lastModified);

  // 1-2: If-Match, else If-Unmodified-Since.
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, object.etag))
      throw precondition(names.ifMatch === 'if-match' ? 'If-Match' : names.ifMatch);
  } else if (ifUnmodifiedSince !== undefined) {
    const d = parseHttpDate(ifUnmodifiedSince);
    if (d && modified > seconds(d)) {
      throw precondition(
        names.ifUnmodifiedSince === 'if-unmodified-since' ? 'If-Unmodified-Since' : names.ifUnmodifiedSince,
      );
    }
  }
  // 3-4: If-None-Match, else If-Modified-Since.
  const notModified = (): S3Error =>
    notModifiedIs304
      ? new S3Error('NotModified', undefined, {
          headers: { etag: quoteEtag(object.etag), 'last-modified': object.lastModified.toUTCString() },
        })
      : precondition(names.ifNoneMatch);
  if (ifNoneMatch !== undefined) {
    if (listMatches(ifNoneMatch, object.etag)) throw notModified();
  } else if (ifModifiedSince !== undefined) {
    const d = parseHttpDate(ifModifiedSince);
    if (d && modified <= seconds(d)) {
      throw notModifiedIs304 ? notModified() : precondition(names.ifModifiedSince);
    }
  }
}

/** GET/HEAD conditions: 412 PreconditionFailed or 304 NotModified (with ETag/Last-Modified headers). */
export function evaluateReadConditionals(headers: Headers, object: ObjectVersion): void {
  evaluate(headers, object, READ, true);
}

/** CopyObject / UploadPartCopy `x-amz-copy-source-if-*` conditions: every failure is 412. */
export function evaluateCopySourceConditionals(headers: Headers, source: ObjectVersion): void {
  evaluate(headers, source, COPY_SOURCE, false);
}

/**
 * Conditional writes (PutObject, CompleteMultipartUpload): `If-None-Match: *` fails with 412 when
 * the key exists; `If-Match` fails with 412 on a different ETag and 404 NoSuchKey when the key is
 * absent. Other If-None-Match values are NotImplemented, as on S3. `current` is the object now
 * stored under the key, if any. The caller must re-check atomically at commit time (409
 * ConditionalRequestConflict on a race).
 */
export function evaluateWriteConditionals(
  headers: Headers,
  current: ObjectVersion | undefined,
  /** The key written, named in the NoSuchKey error. */
  key?: string,
): void {
  const ifNoneMatch = headers['if-none-match'];
  const ifMatch = headers['if-match'];
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      // The catalogue's message is S3's own wording for this case.
      throw new S3Error('NotImplemented', undefined, { extra: { Header: 'If-None-Match' } });
    }
    if (current) throw precondition('If-None-Match');
  }
  if (ifMatch !== undefined) {
    if (!current) throw new S3Error('NoSuchKey', undefined, key === undefined ? {} : { extra: { Key: key } });
    if (!listMatches(ifMatch, current.etag)) throw precondition('If-Match');
  }
}

/** The state a conditional delete compares: the version's ETag and Last-Modified, and its size. */
export interface DeletedVersion extends ObjectVersion {
  size: number;
}

/** A conditional delete's values, checked for form (parseDeleteConditions). */
export interface DeleteConditions {
  ifMatch?: string;
  lastModified?: Date;
  size?: number;
}

/**
 * The conditional delete headers (`If-Match`, `x-amz-if-match-last-modified-time`,
 * `x-amz-if-match-size`), their values checked: InvalidArgument (400) for a malformed one.
 */
export function parseDeleteConditions(headers: Headers): DeleteConditions {
  const out: DeleteConditions = {};
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) out.ifMatch = ifMatch;
  const lastModified = headers['x-amz-if-match-last-modified-time'];
  if (lastModified !== undefined) {
    const when = parseHttpDate(lastModified) ?? parseIsoDate(lastModified);
    if (when === undefined)
      throw new S3Error('InvalidArgument', 'x-amz-if-match-last-modified-time is not a date', {
        extra: { ArgumentName: 'x-amz-if-match-last-modified-time', ArgumentValue: lastModified },
      });
    out.lastModified = when;
  }
  const size = headers['x-amz-if-match-size'];
  if (size !== undefined) {
    if (!/^\d{1,16}$/.test(size.trim()))
      throw new S3Error('InvalidArgument', 'x-amz-if-match-size is not a size', {
        extra: { ArgumentName: 'x-amz-if-match-size', ArgumentValue: size },
      });
    out.size = Number(size.trim());
  }
  return out;
}

/** A DeleteObjects entry's ETag / LastModifiedTime / Size as the headers a DeleteObject sends. */
export function deleteEntryConditions(entry: DeleteObjectEntry): Record<string, string> {
  const out: Record<string, string> = {};
  if (entry.etag !== undefined) out['if-match'] = entry.etag;
  if (entry.lastModifiedTime !== undefined) out['x-amz-if-match-last-modified-time'] = entry.lastModifiedTime;
  if (entry.size !== undefined) out['x-amz-if-match-size'] = entry.size;
  return out;
}

/**
 * DeleteObject's conditions (and a DeleteObjects entry's, passed as the same header names):
 * `If-Match` (a missing object is NoSuchKey, as for a conditional write), and
 * `x-amz-if-match-last-modified-time` / `x-amz-if-match-size`, which a missing object satisfies
 * (S3 answers 204 then). A mismatch is 412 PreconditionFailed; a malformed value 400.
 */
export function evaluateDeleteConditionals(
  headers: Headers,
  current: DeletedVersion | undefined,
  key?: string,
): void {
  if (headers['if-match'] !== undefined && !current)
    throw new S3Error('NoSuchKey', undefined, key === undefined ? {} : { extra: { Key: key } });
  const c = parseDeleteConditions(headers);
  if (!current) return;
  if (c.ifMatch !== undefined && !listMatches(c.ifMatch, current.etag)) throw precondition('If-Match');
  if (c.lastModified !== undefined && seconds(current.lastModified) !== seconds(c.lastModified))
    throw precondition('x-amz-if-match-last-modified-time');
  if (c.size !== undefined && current.size !== c.size) throw precondition('x-amz-if-match-size');
}

/** An ISO 8601 timestamp (the form DeleteObjects bodies and some SDKs send), or undefined. */
function parseIsoDate(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text.trim())) return undefined;
  const d = new Date(text.trim());
  return Number.isNaN(d.getTime()) ? undefined : d;
}
