// SigV4 verification (Authorization header and presigned query). Invariant: an AuthContext is
// returned only when a signature computed here from the request as sent equals the one provided
// (constant-time compare), the credential scope is well-formed and for this service/region, and
// the request time is within the allowed skew (header) or validity window (presigned).

import { formatAmzDate, parseAmzDate, parseHttpDate } from '../dates.ts';
import { S3Error } from '../errors.ts';
import { parseQueryParams, type QueryParam } from '../query.ts';
import {
  canonicalHeadersBlock,
  canonicalQueryString,
  canonicalRequest,
  canonicalUriCandidates,
  stringToSign,
} from './canonical.ts';
import { deriveSigningKey, hmacDigest } from './signing-key.ts';
import type { AuthContext, AuthOptions, AuthRequest, PayloadMode, SecretLookup } from './types.ts';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
const DEFAULT_MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
const HEX64 = /^[0-9a-f]{64}$/;

/** Map an `x-amz-content-sha256` value to a payload mode; undefined when it is not a valid value. */
export function payloadModeOf(value: string): { mode: PayloadMode; sha256?: string } | undefined {
  switch (value) {
    case 'UNSIGNED-PAYLOAD':
      return { mode: 'UNSIGNED-PAYLOAD' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { mode: 'STREAMING-SIGNED' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { mode: 'STREAMING-SIGNED-TRAILER' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { mode: 'STREAMING-UNSIGNED-TRAILER' };
  }
  const lower = value.toLowerCase();
  return HEX64.test(lower) ? { mode: 'SIGNED', sha256: lower } : undefined;
}

function payloadModeOrThrow(value: string): { mode: PayloadMode; sha256?: string } {
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256')) {
    throw new S3Error('NotImplemented', 'SigV4a (ECDSA) streaming signatures are not supported', {
      extra: { Header: 'x-amz-content-sha256' },
    });
  }
  const m = payloadModeOf(value);
  if (!m) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
      { extra: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value } },
    );
  }
  return m;
}

/** A parsed SigV4 credential `<AKID>/<YYYYMMDD>/<region>/s3/aws4_request`. */
export interface Credential {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly scope: string;
}

export type ScopeErrorCode = 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError';

// One-entry memo: a client sends the same credential scope on every request of the day. The
// cached Credential is never mutated by callers (fields are only read).
let lastCredential:
  | { value: string; code: ScopeErrorCode; region: string | undefined; cred: Credential }
  | undefined;

/** Parses and checks a SigV4 credential scope (this service, the configured region). */
export function parseCredential(value: string, code: ScopeErrorCode, opts: AuthOptions): Credential {
  const last = lastCredential;
  if (last !== undefined && last.value === value && last.code === code && last.region === opts.region)
    return last.cred;
  const cred = parseCredentialUncached(value, code, opts);
  lastCredential = { value, code, region: opts.region, cred };
  return cred;
}

function parseCredentialUncached(value: string, code: ScopeErrorCode, opts: AuthOptions): Credential {
  const parts = value.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') {
    throw new S3Error(
      code,
      `${code === 'AuthorizationHeaderMalformed' ? 'The authorization header is malformed; the' : 'Error parsing the X-Amz-Credential parameter; the'} Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    );
  }
  const [date, region, service] = parts.slice(-4, -1) as [string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '' || !/^\d{8}$/.test(date) || region === '') {
    throw new S3Error(
      code,
      'The Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  if (service !== SERVICE) {
    throw new S3Error(
      code,
      `The authorization is malformed; incorrect service "${service}". This endpoint belongs to "s3".`,
    );
  }
  if (opts.region !== undefined && region !== opts.region) {
    throw new S3Error(
      code,
      `The authorization is malformed; the region '${region}' is wrong; expecting '${opts.region}'`,
      {
        extra: { Region: opts.region },
      },
    );
  }
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/aws4_request` };
}

// One-entry memo of the last valid list: a client signs the same header set on every request.
// The returned array is shared, so it is readonly.
let lastSignedHeaders: { value: string; names: readonly string[] } | undefined;

function parseSignedHeaders(value: string, code: ScopeErrorCode): readonly string[] {
  if (lastSignedHeaders !== undefined && lastSignedHeaders.value === value) return lastSignedHeaders.names;
  const names = parseSignedHeadersUncached(value, code);
  lastSignedHeaders = { value, names };
  return names;
}

function parseSignedHeadersUncached(value: string, code: ScopeErrorCode): readonly string[] {
  const names = value.split(';');
  if (value === '' || names.some((n) => n === '' || n !== n.toLowerCase())) {
    throw new S3Error(code, 'The SignedHeaders list is malformed.');
  }
  if (!names.includes('host')) {
    throw new S3Error(code, 'The host header must be signed.');
  }
  // SigV4 requires the list sorted; a client that did not sort signed something else.
  for (let i = 1; i < names.length; i++) {
    if (names[i - 1]! >= names[i]!)
      throw new S3Error(code, 'The SignedHeaders list must be sorted and unique.');
  }
  return names;
}

function lookupOrThrow(lookup: SecretLookup, accessKeyId: string): string {
  const secret = lookup(accessKeyId);
  if (secret === undefined) {
    throw new S3Error('InvalidAccessKeyId', undefined, { extra: { AWSAccessKeyId: accessKeyId } });
  }
  return secret;
}

/**
 * Constant-time compare of a raw HMAC-SHA256 digest with a hex signature (either case). Compares
 * the 64 hex characters directly: no regex, no decoded Buffer per request. A non-hex character
 * never equals a character of the lower-case hex text, so it fails the compare.
 */
function signaturesEqual(expected: Buffer, providedHex: string): boolean {
  if (providedHex.length !== 64 || expected.length !== 32) return false;
  const want = expected.toString('hex');
  let diff = 0;
  for (let i = 0; i < 64; i++) {
    let c = providedHex.charCodeAt(i);
    if (c >= 65 && c <= 70) c |= 0x20; // A-F as a-f
    diff |= c ^ want.charCodeAt(i);
  }
  return diff === 0;
}

interface SignatureCheck {
  req: AuthRequest;
  signedHeaders: readonly string[];
  canonicalQuery: string;
  payloadHash: string;
  amzDate: string;
  cred: Credential;
  signingKey: Buffer;
  provided: string;
}

/** Verify against each canonical URI candidate; throws SignatureDoesNotMatch with the S3 debug fields. */
function checkSignature(c: SignatureCheck): void {
  const headersBlock = canonicalHeadersBlock(c.req.headers, c.signedHeaders);
  let first: { canonical: string; sts: string } | undefined;
  for (const uri of canonicalUriCandidates(c.req.rawPath)) {
    const canonical = canonicalRequest(
      c.req.method,
      uri,
      c.canonicalQuery,
      headersBlock,
      c.signedHeaders,
      c.payloadHash,
    );
    const sts = stringToSign(c.amzDate, c.cred.scope, canonical);
    if (signaturesEqual(hmacDigest(c.signingKey, sts), c.provided)) return;
    first ??= { canonical, sts };
  }
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    extra: {
      AWSAccessKeyId: c.cred.accessKeyId,
      StringToSign: first!.sts,
      SignatureProvided: c.provided,
      CanonicalRequest: first!.canonical,
    },
  });
}

function checkSkew(requestTime: Date, opts: AuthOptions): void {
  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (Math.abs(opts.now.getTime() - requestTime.getTime()) > maxSkew) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      extra: {
        RequestTime: formatAmzDate(requestTime),
        ServerTime: opts.now.toISOString(),
        MaxAllowedSkewMilliseconds: String(maxSkew),
      },
    });
  }
}

/** Parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
export interface SigV4AuthorizationHeader {
  credential: string;
  signedHeaders: string;
  signature: string;
}

/** Parse a SigV4 Authorization header value; throws AuthorizationHeaderMalformed. */
export function parseSigV4Authorization(value: string): SigV4AuthorizationHeader {
  const rest = value.slice(SIGV4_ALGORITHM.length);
  const fields = new Map<string, string>();
  for (const part of rest.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq === -1)
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; '${p}' is not a key=value pair.`,
      );
    fields.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      'The authorization header is malformed; it must contain Credential, SignedHeaders and Signature.',
    );
  }
  return { credential, signedHeaders, signature };
}

/** Verify a request signed with a SigV4 Authorization header. */
export function verifySigV4Header(req: AuthRequest, lookup: SecretLookup, opts: AuthOptions): AuthContext {
  const auth = parseSigV4Authorization(req.headers.authorization ?? '');
  const cred = parseCredential(auth.credential, 'AuthorizationHeaderMalformed', opts);
  const signedHeaders = parseSignedHeaders(auth.signedHeaders, 'AuthorizationHeaderMalformed');

  // x-amz-date wins over Date; Date must then be in the same basic format to be usable.
  const amzDateHeader = req.headers['x-amz-date'];
  let amzDate: string;
  let requestTime: Date | undefined;
  if (amzDateHeader !== undefined) {
    amzDate = amzDateHeader.trim();
    requestTime = parseAmzDate(amzDate);
  } else {
    const dateHeader = req.headers.date?.trim() ?? '';
    requestTime = parseAmzDate(dateHeader) ?? parseHttpDate(dateHeader);
    amzDate = requestTime ? formatAmzDate(requestTime) : '';
  }
  if (!requestTime) {
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  if (amzDate.slice(0, 8) !== cred.date) {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }

  const contentSha = req.headers['x-amz-content-sha256'];
  if (contentSha === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const payload = payloadModeOrThrow(contentSha.trim());

  if (opts.requireSignedAmzHeaders ?? true) {
    let unsigned: string[] | undefined;
    for (const h in req.headers) {
      if (h.startsWith('x-amz-') && req.headers[h] !== undefined && !signedHeaders.includes(h)) {
        if (unsigned === undefined) unsigned = [];
        unsigned.push(h);
      }
    }
    if (unsigned !== undefined) {
      throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
        extra: { HeadersNotSigned: unsigned.join(', ') },
      });
    }
  }

  checkSkew(requestTime, opts);
  const secret = lookupOrThrow(lookup, cred.accessKeyId);
  const signingKey = deriveSigningKey(secret, cred.date, cred.region, cred.service);
  checkSignature({
    req,
    signedHeaders,
    canonicalQuery: canonicalQueryString(req.rawQuery, undefined, req.params),
    payloadHash: contentSha.trim(),
    amzDate,
    cred,
    signingKey,
    provided: auth.signature,
  });

  const ctx: AuthContext = {
    method: 'sigv4-header',
    accessKeyId: cred.accessKeyId,
    payloadMode: payload.mode,
    seedSignature: auth.signature.toLowerCase(),
    signingKey,
    scope: cred.scope,
    amzDate,
    region: cred.region,
  };
  if (payload.sha256 !== undefined) ctx.declaredSha256 = payload.sha256;
  const token = req.headers['x-amz-security-token'];
  if (token !== undefined) ctx.securityToken = token;
  return ctx;
}

interface PresignParams {
  algorithm?: string;
  credential?: string;
  date?: string;
  expires?: string;
  signedHeadersRaw?: string;
  signature?: string;
  contentSha256?: string;
  securityToken?: string;
}

/** The X-Amz-* parameters of a presigned URL in one pass (first occurrence of each wins). */
function presignParams(params: readonly QueryParam[]): PresignParams {
  const out: PresignParams = {};
  for (const p of params) {
    const name = p.name;
    if (!name.startsWith('X-Amz-')) continue;
    switch (name) {
      case 'X-Amz-Algorithm':
        out.algorithm ??= p.value;
        break;
      case 'X-Amz-Credential':
        out.credential ??= p.value;
        break;
      case 'X-Amz-Date':
        out.date ??= p.value;
        break;
      case 'X-Amz-Expires':
        out.expires ??= p.value;
        break;
      case 'X-Amz-SignedHeaders':
        out.signedHeadersRaw ??= p.value;
        break;
      case 'X-Amz-Signature':
        out.signature ??= p.value;
        break;
      case 'X-Amz-Content-Sha256':
        out.contentSha256 ??= p.value;
        break;
      case 'X-Amz-Security-Token':
        out.securityToken ??= p.value;
        break;
    }
  }
  return out;
}

/** Verify a SigV4 presigned URL (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature). */
export function verifySigV4Query(
  req: AuthRequest,
  lookup: SecretLookup,
  opts: AuthOptions,
  parsedQuery?: readonly QueryParam[],
): AuthContext {
  const params = parsedQuery ?? parseQueryParams(req.rawQuery);
  const q = presignParams(params);
  const { algorithm, credential, date, expires, signedHeadersRaw, signature } = q;
  if (
    algorithm === undefined ||
    credential === undefined ||
    date === undefined ||
    expires === undefined ||
    signedHeadersRaw === undefined ||
    signature === undefined
  ) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
    );
  }
  const cred = parseCredential(credential, 'AuthorizationQueryParametersError', opts);
  const requestTime = parseAmzDate(date);
  if (!requestTime) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
    );
  }
  if (date.slice(0, 8) !== cred.date) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${date.slice(0, 8)}".`,
    );
  }
  if (!/^\d{1,10}$/.test(expires)) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  }
  const expiresSeconds = Number(expires);
  const maxPresign = opts.maxPresignSeconds ?? DEFAULT_MAX_PRESIGN_SECONDS;
  if (expiresSeconds > maxPresign) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `X-Amz-Expires must be less than a week (in seconds) that is ${maxPresign}`,
    );
  }
  const signedHeaders = parseSignedHeaders(signedHeadersRaw, 'AuthorizationQueryParametersError');
  const expiresAt = new Date(requestTime.getTime() + expiresSeconds * 1000);
  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (requestTime.getTime() - opts.now.getTime() > maxSkew) {
    throw new S3Error('AccessDenied', 'Request is not valid yet', {
      extra: { 'X-Amz-Date': date, ServerTime: opts.now.toISOString() },
    });
  }
  if (opts.now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      extra: {
        'X-Amz-Expires': expires,
        Expires: expiresAt.toISOString(),
        ServerTime: opts.now.toISOString(),
      },
    });
  }

  // Presigned URLs sign UNSIGNED-PAYLOAD unless the URL itself carries X-Amz-Content-Sha256.
  const payloadHash = q.contentSha256 ?? 'UNSIGNED-PAYLOAD';
  const payload = payloadModeOrThrow(payloadHash);

  const secret = lookupOrThrow(lookup, cred.accessKeyId);
  const signingKey = deriveSigningKey(secret, cred.date, cred.region, cred.service);
  checkSignature({
    req,
    signedHeaders,
    canonicalQuery: canonicalQueryString(req.rawQuery, 'X-Amz-Signature', params),
    payloadHash,
    amzDate: date,
    cred,
    signingKey,
    provided: signature,
  });

  const ctx: AuthContext = {
    method: 'sigv4-query',
    accessKeyId: cred.accessKeyId,
    payloadMode: payload.mode,
    seedSignature: signature.toLowerCase(),
    signingKey,
    scope: cred.scope,
    amzDate: date,
    region: cred.region,
    expiresAt,
  };
  if (payload.sha256 !== undefined) ctx.declaredSha256 = payload.sha256;
  const token = q.securityToken ?? req.headers['x-amz-security-token'];
  if (token !== undefined) ctx.securityToken = token;
  return ctx;
}
