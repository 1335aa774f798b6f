// SigV2 verification (`Authorization: AWS AKID:sig` and presigned `AWSAccessKeyId/Signature/
// Expires`), still the default for boto3/aws-cli presigned URLs in many setups. Invariant: an
// AuthContext is returned only when HMAC-SHA1 over the string-to-sign built here equals the
// signature provided (constant-time), within the skew window (header) or before Expires (query).
//
// Hazard: the canonicalized resource keeps only the S3 sub-resources below, decoded, sorted by
// name, with `=` present exactly when the client sent one; every other query parameter
// (x-id, prefix, ...) is not signed in SigV2.

import { parseHttpDate } from '../dates.ts';
import { S3Error } from '../errors.ts';
import { decodeHeaderText } from '../header-text.ts';
import { parseQueryParams, type QueryParam } from '../query.ts';
import { signaturesEqual, sigV2Signature } from './signing-key.ts';
import type { AuthContext, AuthOptions, AuthRequest, SecretLookup } from './types.ts';

const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;

/** Query parameters that SigV2 signs as part of the resource. */
export const SIGV2_SUB_RESOURCES: ReadonlySet<string> = new Set([
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'defaultObjectAcl',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'retention',
  'select',
  'select-type',
  'storageClass',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

/**
 * `/bucket/key?sub&res=v` as SigV2 signs it. Returns candidates: a bucket-only path-style
 * request (`/bkt`) is also tried as `/bkt/`, because botocore signs bucket operations with the
 * trailing slash while sending the path without it.
 */
export function canonicalizedResources(req: AuthRequest, params: readonly QueryParam[]): string[] {
  const path =
    req.virtualHostBucket !== undefined
      ? `/${req.virtualHostBucket}${req.rawPath || '/'}`
      : req.rawPath || '/';
  const subs = params.filter((p) => SIGV2_SUB_RESOURCES.has(p.name));
  let suffix = '';
  if (subs.length > 0) {
    // Stable sort by name only, as the reference signers do.
    subs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    suffix = `?${subs.map((p) => (p.rawValue === undefined ? p.name : `${p.name}=${p.value}`)).join('&')}`;
  }
  const paths = /^\/[^/]+$/.test(path) ? [path, `${path}/`] : [path];
  return paths.map((p) => p + suffix);
}

/** `x-amz-*` headers, lower-case, sorted, `name:value\n` each (x-amz-date included). */
export function canonicalizedAmzHeaders(headers: Readonly<Record<string, string | undefined>>): string {
  const names = Object.keys(headers)
    .filter((h) => h.startsWith('x-amz-') && headers[h] !== undefined)
    .sort();
  let out = '';
  for (const name of names) {
    // Trim only: a value's own commas and spaces are signed as sent (botocore strips the ends).
    // Non-ASCII text is signed as decodeHeaderText reads it, like SigV4 (see canonicalHeadersBlock).
    const value = decodeHeaderText(headers[name]!)
      .trim()
      .replace(/\s*\r?\n\s*/g, ' ');
    out += `${name}:${value}\n`;
  }
  return out;
}

/** SigV2 strings to sign (one per resource candidate); `dateLine` is the Date header, '' when x-amz-date is used, or Expires for query auth. */
export function sigV2StringsToSign(
  req: AuthRequest,
  dateLine: string,
  params: readonly QueryParam[],
): string[] {
  const md5 = req.headers['content-md5']?.trim() ?? '';
  const type = req.headers['content-type']?.trim() ?? '';
  const head = `${req.method}\n${md5}\n${type}\n${dateLine}\n${canonicalizedAmzHeaders(req.headers)}`;
  return canonicalizedResources(req, params).map((resource) => head + resource);
}

/** True when `provided` matches the signature of one of the candidate strings. */
function anyMatches(secret: string, candidates: readonly string[], provided: string): boolean {
  return candidates.some((sts) => signaturesEqual(sigV2Signature(secret, sts), provided));
}

function lookupOrThrow(lookup: SecretLookup, accessKeyId: string): string {
  const secret = lookup(accessKeyId);
  if (secret === undefined)
    throw new S3Error('InvalidAccessKeyId', undefined, { extra: { AWSAccessKeyId: accessKeyId } });
  return secret;
}

function mismatch(accessKeyId: string, sts: string, provided: string): S3Error {
  return new S3Error('SignatureDoesNotMatch', undefined, {
    extra: { AWSAccessKeyId: accessKeyId, StringToSign: sts, SignatureProvided: provided },
  });
}

/** Verify `Authorization: AWS AKID:base64(HMAC-SHA1)`. */
export function verifySigV2Header(req: AuthRequest, lookup: SecretLookup, opts: AuthOptions): AuthContext {
  const value = (req.headers.authorization ?? '').slice(4).trim();
  const colon = value.lastIndexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature',
      {
        extra: { ArgumentName: 'Authorization', ArgumentValue: req.headers.authorization ?? '' },
      },
    );
  }
  const accessKeyId = value.slice(0, colon);
  const provided = value.slice(colon + 1);
  const amzDate = req.headers['x-amz-date'];
  const dateText = amzDate ?? req.headers.date;
  const requestTime = dateText === undefined ? undefined : parseHttpDate(dateText);
  if (!requestTime)
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (Math.abs(opts.now.getTime() - requestTime.getTime()) > maxSkew) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      extra: {
        RequestTime: dateText ?? '',
        ServerTime: opts.now.toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkew),
      },
    });
  }
  const params = parseQueryParams(req.rawQuery);
  // With x-amz-date present the Date line is empty (x-amz-date is signed among the amz headers).
  const sts = sigV2StringsToSign(req, amzDate !== undefined ? '' : (req.headers.date ?? '').trim(), params);
  const secret = lookupOrThrow(lookup, accessKeyId);
  if (!anyMatches(secret, sts, provided)) throw mismatch(accessKeyId, sts[0]!, provided);
  const ctx: AuthContext = { method: 'sigv2-header', accessKeyId, payloadMode: 'UNSIGNED-PAYLOAD' };
  const token = req.headers['x-amz-security-token'];
  if (token !== undefined) ctx.securityToken = token;
  return ctx;
}

/** Verify a SigV2 presigned URL (`AWSAccessKeyId`, `Signature`, `Expires` epoch seconds). */
export function verifySigV2Query(req: AuthRequest, lookup: SecretLookup, opts: AuthOptions): AuthContext {
  const params = parseQueryParams(req.rawQuery);
  const get = (n: string): string | undefined => params.find((p) => p.name === n)?.value;
  const accessKeyId = get('AWSAccessKeyId');
  // A `+` left unencoded in the base64 signature decodes as a space; base64 has no spaces.
  const provided = get('Signature')?.replaceAll(' ', '+');
  const expires = get('Expires');
  if (accessKeyId === undefined || provided === undefined || expires === undefined) {
    throw new S3Error(
      'AccessDenied',
      'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
    );
  }
  if (!/^\d{1,12}$/.test(expires)) {
    throw new S3Error('AccessDenied', `Invalid date (should be seconds since epoch): ${expires}`);
  }
  const expiresAt = new Date(Number(expires) * 1000);
  if (opts.now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      extra: { Expires: expiresAt.toISOString(), ServerTime: opts.now.toISOString() },
    });
  }
  const sts = sigV2StringsToSign(req, expires, params);
  const secret = lookupOrThrow(lookup, accessKeyId);
  if (!anyMatches(secret, sts, provided)) throw mismatch(accessKeyId, sts[0]!, provided);
  const ctx: AuthContext = { method: 'sigv2-query', accessKeyId, payloadMode: 'UNSIGNED-PAYLOAD', expiresAt };
  const token = get('x-amz-security-token') ?? req.headers['x-amz-security-token'];
  if (token !== undefined) ctx.securityToken = token;
  return ctx;
}
