// Browser-based uploads (POST Object): the form carries a base64 JSON policy and a signature of
// that policy (SigV4 `x-amz-signature` over the policy with the derived signing key, or SigV2
// `signature`, base64 HMAC-SHA1); the policy bounds what the form may do.
// Invariants: a form is accepted only when its signature verifies for a known key, its policy has
// not expired, every condition holds, and every form field (but the signature, the policy, the
// file and `x-ignore-*` fields) is named by a condition, as S3 requires. The file size is checked
// against `content-length-range` by the caller, while the file streams (`sizeLimits`).
import { S3Error } from '../errors.ts';
import { deriveSigningKey, hmacHex, signaturesEqual, sigV2Signature } from './signing-key.ts';
import { parseCredential } from './sigv4.ts';
import type { SecretLookup } from './types.ts';

/** What a verified form grants: who signed it and the file sizes its policy allows. */
export interface PostPolicyGrant {
  accessKeyId: string;
  /** Inclusive bounds from `content-length-range`; absent = S3's own limits only. */
  minBytes?: number;
  maxBytes?: number;
}

/** Fields S3 leaves out of the "every field needs a condition" rule. */
const EXEMPT_FIELDS: ReadonlySet<string> = new Set([
  'x-amz-signature',
  'signature',
  'awsaccesskeyid',
  'policy',
  'file',
]);

function denied(reason: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${reason}`);
}

/**
 * Verifies the signature of a POST form (`fields`: lower-cased names, the bucket as its own
 * `bucket` entry) and its policy at `now`; returns the signer and the size bounds, or throws the
 * S3Error S3 answers (AccessDenied with the failed condition, InvalidAccessKeyId,
 * SignatureDoesNotMatch, InvalidArgument for a malformed policy).
 */
export function verifyPostPolicy(
  fields: ReadonlyMap<string, string>,
  lookupSecret: SecretLookup,
  opts: { region: string; now: Date },
): PostPolicyGrant {
  const policy = fields.get('policy');
  if (policy === undefined) throw new S3Error('AccessDenied', 'Anonymous POST uploads are not allowed');
  const accessKeyId = verifySignature(fields, policy, lookupSecret, opts);
  let doc: { expiration?: unknown; conditions?: unknown };
  try {
    doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as typeof doc;
  } catch {
    throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
  if (typeof doc.expiration !== 'string' || Number.isNaN(Date.parse(doc.expiration)))
    throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid or missing expiration.');
  if (Date.parse(doc.expiration) < opts.now.getTime()) throw denied('Policy expired.');
  if (!Array.isArray(doc.conditions))
    throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid or missing conditions.');
  const grant: PostPolicyGrant = { accessKeyId };
  const named = new Set<string>();
  for (const c of doc.conditions as unknown[]) checkCondition(c, fields, named, grant);
  for (const name of fields.keys()) {
    if (EXEMPT_FIELDS.has(name) || name.startsWith('x-ignore-') || named.has(name)) continue;
    throw denied(`Extra input fields: ${name}`);
  }
  return grant;
}

function verifySignature(
  fields: ReadonlyMap<string, string>,
  policy: string,
  lookupSecret: SecretLookup,
  opts: { region: string; now: Date },
): string {
  const v4 = fields.get('x-amz-signature');
  if (v4 !== undefined) {
    if (fields.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256')
      throw new S3Error('InvalidArgument', 'POST requires x-amz-algorithm AWS4-HMAC-SHA256');
    const { accessKeyId, date } = parseCredential(
      fields.get('x-amz-credential') ?? '',
      'AuthorizationQueryParametersError',
      opts,
    );
    const secret = lookupSecret(accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId');
    const expected = hmacHex(deriveSigningKey(secret, date, opts.region, 's3'), policy);
    if (!signaturesEqual(expected, v4.toLowerCase())) throw new S3Error('SignatureDoesNotMatch');
    return accessKeyId;
  }
  const v2 = fields.get('signature');
  const accessKeyId = fields.get('awsaccesskeyid');
  if (v2 === undefined || accessKeyId === undefined)
    throw new S3Error('AccessDenied', 'POST requires x-amz-signature (or signature and AWSAccessKeyId)');
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId');
  if (!signaturesEqual(sigV2Signature(secret, policy), v2)) throw new S3Error('SignatureDoesNotMatch');
  return accessKeyId;
}

/** A condition's field reference: `$Key` -> `key`. */
function fieldOf(ref: unknown): string {
  if (typeof ref !== 'string' || !ref.startsWith('$'))
    throw new S3Error('InvalidPolicyDocument', `Invalid Policy: condition field ${String(ref)}`);
  return ref.slice(1).toLowerCase();
}

function checkCondition(
  c: unknown,
  fields: ReadonlyMap<string, string>,
  named: Set<string>,
  grant: PostPolicyGrant,
): void {
  const failed = (): S3Error => denied(`Policy Condition failed: ${JSON.stringify(c)}`);
  if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
    // {"bucket": "name"}: an exact match, as ["eq", "$bucket", "name"]
    for (const [name, value] of Object.entries(c)) {
      const field = name.toLowerCase();
      named.add(field);
      if (fields.get(field) !== String(value)) throw failed();
    }
    return;
  }
  if (!Array.isArray(c) || c.length !== 3)
    throw new S3Error('InvalidPolicyDocument', `Invalid Policy: condition ${JSON.stringify(c)}`);
  const [op, a, b] = c as [unknown, unknown, unknown];
  if (typeof op !== 'string')
    throw new S3Error('InvalidPolicyDocument', `Invalid Policy: condition ${JSON.stringify(c)}`);
  switch (op.toLowerCase()) {
    case 'eq': {
      const field = fieldOf(a);
      named.add(field);
      if ((fields.get(field) ?? '') !== String(b)) throw failed();
      return;
    }
    case 'starts-with': {
      const field = fieldOf(a);
      named.add(field);
      const value = fields.get(field) ?? '';
      // Content-Type may list several types: each must match (S3's rule for that field).
      const values = field === 'content-type' ? value.split(',').map((v) => v.trim()) : [value];
      if (!values.every((v) => v.startsWith(String(b)))) throw failed();
      return;
    }
    case 'content-length-range': {
      const min = Number(a);
      const max = Number(b);
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min)
        throw new S3Error('InvalidPolicyDocument', `Invalid Policy: condition ${JSON.stringify(c)}`);
      grant.minBytes = Math.max(grant.minBytes ?? 0, min);
      grant.maxBytes = Math.min(grant.maxBytes ?? Number.MAX_SAFE_INTEGER, max);
      return;
    }
    default:
      throw new S3Error('InvalidPolicyDocument', `Invalid Policy: unknown condition ${op}`);
  }
}
