import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { S3Error } from '../errors.ts';
import { verifyPostPolicy } from './post-policy.ts';
import { deriveSigningKey } from './signing-key.ts';

const SECRET = 'secret/with+chars=';
const lookup = (id: string) => (id === 'AKID' ? SECRET : undefined);
const now = new Date('2026-11-25T12:00:00Z');
const opts = { region: 'us-east-1', now };

/** A SigV4-signed form for `conditions`, with `extra` fields. */
function form(
  conditions: unknown[],
  extra: Record<string, string> = {},
  expiration = '2026-11-25T13:00:00Z',
) {
  const policy = Buffer.from(JSON.stringify({ expiration, conditions })).toString('base64');
  const signature = createHmac('sha256', deriveSigningKey(SECRET, '20261125', 'us-east-1', 's3'))
    .update(policy)
    .digest('hex');
  return new Map(
    Object.entries({
      bucket: 'b',
      key: 'uploads/a.txt',
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': 'AKID/20261125/us-east-1/s3/aws4_request',
      'x-amz-date': '20261125T120000Z',
      policy,
      'x-amz-signature': signature,
      ...extra,
    }),
  );
}
const base = [
  { bucket: 'b' },
  ['starts-with', '$key', 'uploads/'],
  { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
  { 'x-amz-credential': 'AKID/20261125/us-east-1/s3/aws4_request' },
  { 'x-amz-date': '20261125T120000Z' },
];
const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return `${(e as S3Error).code}: ${(e as S3Error).message}`;
  }
};

describe('verifyPostPolicy', () => {
  it('accepts a signed form whose fields all meet the policy, with its size range', () => {
    const grant = verifyPostPolicy(form([...base, ['content-length-range', 1, 1024]]), lookup, opts);
    expect(grant).toEqual({ accessKeyId: 'AKID', minBytes: 1, maxBytes: 1024 });
  });

  it('refuses a bad signature, an unknown key, an expired policy, a failed condition and extra fields', () => {
    const tampered = form(base);
    tampered.set('x-amz-signature', '0'.repeat(64));
    expect(code(() => verifyPostPolicy(tampered, lookup, opts))).toMatch(/^SignatureDoesNotMatch/);
    const stranger = form(base);
    stranger.set('x-amz-credential', 'NOPE/20261125/us-east-1/s3/aws4_request');
    expect(code(() => verifyPostPolicy(stranger, lookup, opts))).toMatch(/^InvalidAccessKeyId/);
    expect(code(() => verifyPostPolicy(form(base, {}, '2026-11-25T11:00:00Z'), lookup, opts))).toMatch(
      /^AccessDenied: .*Policy expired/,
    );
    expect(code(() => verifyPostPolicy(form(base, { key: 'elsewhere/a.txt' }), lookup, opts))).toMatch(
      /^AccessDenied: .*Policy Condition failed: \["starts-with","\$key","uploads\/"\]/,
    );
    expect(code(() => verifyPostPolicy(form(base, { 'x-amz-meta-a': '1' }), lookup, opts))).toMatch(
      /^AccessDenied: .*Extra input fields: x-amz-meta-a/,
    );
    expect(code(() => verifyPostPolicy(form(base, { 'x-ignore-me': '1' }), lookup, opts))).toBe('ok');
    const noPolicy = form(base);
    noPolicy.delete('policy');
    expect(code(() => verifyPostPolicy(noPolicy, lookup, opts))).toMatch(/^AccessDenied/);
  });

  it('checks eq conditions exactly and SigV2 forms too', () => {
    const withType = [...base, ['eq', '$Content-Type', 'image/png']];
    expect(code(() => verifyPostPolicy(form(withType, { 'content-type': 'image/png' }), lookup, opts))).toBe(
      'ok',
    );
    expect(
      code(() => verifyPostPolicy(form(withType, { 'content-type': 'text/html' }), lookup, opts)),
    ).toMatch(/^AccessDenied/);
    const policy = Buffer.from(
      JSON.stringify({
        expiration: '2026-11-26T00:00:00Z',
        conditions: [{ bucket: 'b' }, ['eq', '$key', 'k']],
      }),
    ).toString('base64');
    const v2 = new Map(
      Object.entries({
        bucket: 'b',
        key: 'k',
        awsaccesskeyid: 'AKID',
        policy,
        signature: createHmac('sha1', SECRET).update(policy).digest('base64'),
      }),
    );
    expect(verifyPostPolicy(v2, lookup, opts)).toEqual({ accessKeyId: 'AKID' });
    v2.set('signature', 'AAAA');
    expect(code(() => verifyPostPolicy(v2, lookup, opts))).toMatch(/^SignatureDoesNotMatch/);
  });
});
