// Object metadata in and out of HTTP headers: standard headers (Content-Type, Cache-Control,
// Content-Disposition, Content-Encoding, Content-Language, Expires) and `x-amz-meta-*` user
// metadata. Invariant: what a PUT stores is exactly what GET/HEAD return (names lower-cased),
// except that a user metadata value that is not printable ASCII is stored as its text and
// returned RFC 2047-encoded (`=?UTF-8?B?...?=`), as S3 does: raw non-ASCII bytes in a response
// header are not carried reliably (node refuses text beyond latin1, clients read bytes as latin1).
import {
  decodeHeaderText,
  encodeHeaderText,
  type ObjectVersion,
  S3Error,
  stripAwsChunkedEncoding,
} from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import type { Headers } from './context.ts';

/**
 * S3 limits user metadata to 2 KB: the sum of the UTF-8 byte lengths of each name (without the
 * `x-amz-meta-` prefix) and value.
 */
export const MAX_USER_METADATA_BYTES = 2048;
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

const META_PREFIX = 'x-amz-meta-';

export type StandardHeaders = Pick<
  ObjectHead,
  | 'contentType'
  | 'contentEncoding'
  | 'contentDisposition'
  | 'contentLanguage'
  | 'cacheControl'
  | 'expires'
  | 'meta'
>;

export function readStandardHeaders(headers: Headers): StandardHeaders {
  const meta: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !name.startsWith(META_PREFIX)) continue;
    const short = name.slice(META_PREFIX.length);
    // Hazard: node hands header bytes over as latin1 (one char per byte): UTF-8 bytes must be
    // decoded, or the text is stored as mojibake and counted twice. Names are tokens (ASCII).
    const text = decodeHeaderText(value);
    meta[short] = text;
    metaBytes += Buffer.byteLength(short, 'latin1') + Buffer.byteLength(text, 'utf8');
  }
  if (metaBytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', undefined, {
      extra: { Size: String(metaBytes), MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) },
    });
  }
  const out: StandardHeaders = { contentType: headers['content-type'] || DEFAULT_CONTENT_TYPE, meta };
  const enc = stripAwsChunkedEncoding(headers['content-encoding']);
  if (enc !== undefined) out.contentEncoding = enc;
  if (headers['content-disposition'] !== undefined) out.contentDisposition = headers['content-disposition'];
  if (headers['content-language'] !== undefined) out.contentLanguage = headers['content-language'];
  if (headers['cache-control'] !== undefined) out.cacheControl = headers['cache-control'];
  if (headers.expires !== undefined) out.expires = headers.expires;
  return out;
}

const OVERRIDES: Array<[string, string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/** The metadata headers of a GET/HEAD response, with `response-*` query overrides applied. */
export function renderStandardHeaders(
  head: ObjectHead,
  query: ReadonlyMap<string, string>,
  out: Record<string, string>,
): void {
  out['content-type'] = head.contentType;
  if (head.contentEncoding !== undefined) out['content-encoding'] = head.contentEncoding;
  if (head.contentDisposition !== undefined) out['content-disposition'] = head.contentDisposition;
  if (head.contentLanguage !== undefined) out['content-language'] = head.contentLanguage;
  if (head.cacheControl !== undefined) out['cache-control'] = head.cacheControl;
  if (head.expires !== undefined) out.expires = head.expires;
  for (const [name, value] of Object.entries(head.meta))
    out[`${META_PREFIX}${name}`] = encodeHeaderText(value);
  for (const [param, header] of OVERRIDES) {
    const v = query.get(param);
    if (v !== undefined) out[header] = overrideValue(param, v);
  }
}

/** A control character other than tab (everything but tab, printable ASCII and non-ASCII). */
const CONTROL = /[^\t\x20-\x7e\x80-\uffff]/;
const NON_ASCII = /[\x80-\uffff]/;

/**
 * A `response-*` value (percent-decoded UTF-8 text) as header bytes: sent back as the UTF-8 the
 * client encoded. Hazard: node writes header strings as latin1 and throws on text beyond U+00FF
 * (a 500 before), so non-ASCII text goes out as its UTF-8 bytes, one latin1 char each. A control
 * character cannot be in a header value at all: 400.
 */
function overrideValue(param: string, value: string): string {
  if (CONTROL.test(value)) {
    throw new S3Error('InvalidArgument', `The ${param} parameter contains a control character`, {
      extra: { ArgumentName: param, ArgumentValue: encodeHeaderText(value) },
    });
  }
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** What RFC 7232 conditionals (s3-protocol `evaluate*Conditionals`) compare against. */
export function objectVersion(head: Pick<ObjectHead, 'etag' | 'lastModifiedMs'>): ObjectVersion {
  return { etag: head.etag, lastModified: new Date(head.lastModifiedMs) };
}
