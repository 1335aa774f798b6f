// Bucket and key naming rules. Invariant: a name that passes here can be stored and listed
// without ambiguity: bucket names are DNS-safe S3 names; keys are 1..1024 bytes of valid UTF-8.
// Keys are otherwise free-form: leading/trailing `/`, `..`, `//`, `+`, `%`, spaces and control
// characters are all legal S3 keys and must round-trip unchanged.

import { S3Error } from './errors.ts';
import { percentDecodeUtf8 } from './uri.ts';

/** Longest object key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const BUCKET_CHARS = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** Why a bucket name is invalid, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long';
  if (!BUCKET_CHARS.test(name)) {
    return 'may contain only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit';
  }
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) {
    return 'must not contain adjacent dots or a dot next to a hyphen';
  }
  if (IPV4_LIKE.test(name)) return 'must not be formatted as an IP address';
  for (const p of RESERVED_PREFIXES) if (name.startsWith(p)) return `must not start with ${p}`;
  for (const s of RESERVED_SUFFIXES) if (name.endsWith(s)) return `must not end with ${s}`;
  return undefined;
}

/** Throws S3Error(InvalidBucketName) unless `name` follows the S3 bucket naming rules. */
export function validateBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem !== undefined) {
    throw new S3Error('InvalidBucketName', `The specified bucket is not valid: bucket names ${problem}.`, {
      extra: { BucketName: name },
    });
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Throws unless `key` is a storable object key: empty → InvalidArgument, more than 1024 UTF-8
 * bytes → KeyTooLongError, unpaired surrogates (not valid UTF-8) → InvalidArgument.
 */
export function validateObjectKey(key: string): void {
  if (key.length === 0) {
    throw new S3Error('InvalidArgument', 'Object key must not be empty', { extra: { ArgumentName: 'key' } });
  }
  // A JS string of n UTF-16 units has at most 3n UTF-8 bytes: skip the count for short keys.
  if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, {
      extra: { Size: String(Buffer.byteLength(key, 'utf8')), MaxSizeAllowed: String(MAX_KEY_BYTES) },
    });
  }
  if (LONE_SURROGATE.test(key)) {
    throw new S3Error('InvalidArgument', 'Object key is not valid UTF-8', { extra: { ArgumentName: 'key' } });
  }
}

/** Bucket and key named by a request path. */
export interface S3PathTarget {
  /** Undefined for the service root (`/`). */
  bucket?: string;
  /** Undefined when the path names only a bucket (`/bkt` or `/bkt/`). */
  key?: string;
}

/**
 * Split a raw request path (exactly as sent, percent-encoded) into bucket and key, decoding each
 * once and normalising nothing: `/bkt/a/../b` names key `a/../b`, `/bkt//x` names key `/x`, `+`
 * stays `+`. For virtual-hosted requests pass the bucket from the Host header; then the whole
 * path after the first `/` is the key.
 */
export function parseS3Path(rawPath: string, virtualHostBucket?: string): S3PathTarget {
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (virtualHostBucket !== undefined) {
    return path === ''
      ? { bucket: virtualHostBucket }
      : { bucket: virtualHostBucket, key: percentDecodeUtf8(path, false, 'key') };
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash === -1) return { bucket: percentDecodeUtf8(path, false, 'bucket name') };
  const bucket = percentDecodeUtf8(path.slice(0, slash), false, 'bucket name');
  const rest = path.slice(slash + 1);
  return rest === '' ? { bucket } : { bucket, key: percentDecodeUtf8(rest, false, 'key') };
}
