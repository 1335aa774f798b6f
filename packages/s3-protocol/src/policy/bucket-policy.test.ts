import { describe, expect, it } from 'vitest';
import { S3Error } from '../errors.ts';
import { parseBucketPolicy } from './bucket-policy.ts';
import { evaluatePolicy, type PolicyRequest, policyIsPublic, s3Arn } from './policy-eval.ts';

const BUCKET = 'photos';

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

function request(
  action: string,
  key: string | undefined,
  context: Record<string, string> = {},
): PolicyRequest {
  return { action, resource: s3Arn(BUCKET, key), context: new Map(Object.entries(context)) };
}

function refusal(text: string): S3Error {
  try {
    parseBucketPolicy(text, BUCKET);
  } catch (err) {
    if (err instanceof S3Error) return err;
    throw err;
  }
  throw new Error('the policy was accepted');
}

const publicRead = {
  Sid: 'PublicRead',
  Effect: 'Allow',
  Principal: '*',
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${BUCKET}/*`,
};

describe('parseBucketPolicy', () => {
  it('accepts the principal forms that mean everyone, one statement or a list', () => {
    for (const principal of ['*', { AWS: '*' }, { AWS: ['*'] }]) {
      const p = parseBucketPolicy(policy({ ...publicRead, Principal: principal }), BUCKET);
      expect(p.statements).toHaveLength(1);
    }
    const single = JSON.stringify({ Version: '2008-10-17', Statement: publicRead });
    expect(parseBucketPolicy(single, BUCKET).statements).toHaveLength(1);
  });

  it('refuses what S3 refuses with MalformedPolicy', () => {
    const cases: string[] = [
      'not json',
      '[]',
      JSON.stringify({ Version: '2012-10-17' }),
      JSON.stringify({ Version: '2020-01-01', Statement: [publicRead] }),
      JSON.stringify({ Version: '2012-10-17', Statement: [publicRead], Extra: 1 }),
      policy({ ...publicRead, Effect: 'Permit' }),
      policy({ ...publicRead, Principal: undefined }),
      policy({ ...publicRead, Action: 'ec2:RunInstances' }),
      policy({ ...publicRead, Action: [] }),
      policy({ ...publicRead, NotAction: 's3:PutObject' }),
      policy({ ...publicRead, Resource: 'arn:aws:s3:::other-bucket/*' }),
      policy({ ...publicRead, Resource: 'photos/*' }),
      policy({ ...publicRead, Colour: 'blue' }),
      policy({ ...publicRead, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }),
      policy({ ...publicRead, Condition: { IpAddress: { 'aws:SourceIp': 'not-an-ip' } } }),
      policy({ ...publicRead, Condition: { Bool: { 'aws:SecureTransport': 'maybe' } } }),
      policy({ ...publicRead, Condition: { StringEquals: { 'aws:SourceIp': '10.0.0.1' } } }),
      'x'.repeat(21 * 1024),
    ];
    for (const text of cases) {
      const err = refusal(text);
      expect(err.code, text.slice(0, 120)).toBe('MalformedPolicy');
      expect(err.status).toBe(400);
    }
  });

  it('answers NotImplemented for valid policy language it does not evaluate', () => {
    const cases: string[] = [
      policy({ ...publicRead, Principal: { AWS: 'arn:aws:iam::111122223333:root' } }),
      policy({ ...publicRead, Principal: { Service: 'logging.s3.amazonaws.com' } }),
      policy({ ...publicRead, Principal: undefined, NotPrincipal: { AWS: '*' } }),
      policy({ ...publicRead, Resource: `arn:aws:s3:::${BUCKET}/\${aws:username}/*` }),
      policy({ ...publicRead, Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } }),
      policy({ ...publicRead, Condition: { StringEquals: { 's3:ExistingObjectTag/team': 'a' } } }),
      policy({ ...publicRead, Condition: { 'ForAnyValue:StringLike': { 's3:prefix': 'a*' } } }),
    ];
    for (const text of cases) {
      const err = refusal(text);
      expect(err.code, text).toBe('NotImplemented');
      expect(err.status).toBe(501);
    }
  });
});

describe('evaluatePolicy', () => {
  it('allows what an Allow statement names, and nothing else', () => {
    const p = parseBucketPolicy(policy(publicRead), BUCKET);
    expect(evaluatePolicy(p, request('s3:GetObject', 'a/b.jpg'))).toBe('allow');
    expect(evaluatePolicy(p, request('s3:PutObject', 'a/b.jpg'))).toBe('none');
    expect(evaluatePolicy(p, request('s3:ListBucket', undefined))).toBe('none');
    expect(policyIsPublic(p)).toBe(true);
  });

  it('matches actions case-insensitively with wildcards, resources case-sensitively', () => {
    const p = parseBucketPolicy(
      policy({
        ...publicRead,
        Action: ['S3:Get*', 's3:List?ucket'],
        Resource: [`arn:aws:s3:::${BUCKET}/Pub?ic/*`],
      }),
      BUCKET,
    );
    expect(evaluatePolicy(p, request('s3:GetObjectTagging', 'Public/x'))).toBe('allow');
    expect(evaluatePolicy(p, request('s3:GetObject', 'public/x'))).toBe('none');
    expect(evaluatePolicy(p, request('s3:GetObject', 'Pub/ic/x'))).toBe('allow'); // ? matches any one character
    expect(evaluatePolicy(p, request('s3:PutObject', 'Public/x'))).toBe('none');
  });

  it('treats regex characters in patterns literally and keys with line breaks whole', () => {
    const p = parseBucketPolicy(
      policy({ ...publicRead, Resource: `arn:aws:s3:::${BUCKET}/a.(b)+[c]/*` }),
      BUCKET,
    );
    expect(evaluatePolicy(p, request('s3:GetObject', 'a.(b)+[c]/x\ny'))).toBe('allow');
    expect(evaluatePolicy(p, request('s3:GetObject', 'aX(b)+[c]/x'))).toBe('none');
  });

  it('lets an explicit Deny win over an Allow', () => {
    const p = parseBucketPolicy(
      policy(publicRead, {
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: `arn:aws:s3:::${BUCKET}/private/*`,
      }),
      BUCKET,
    );
    expect(evaluatePolicy(p, request('s3:GetObject', 'private/x'))).toBe('deny');
    expect(evaluatePolicy(p, request('s3:GetObject', 'public/x'))).toBe('allow');
  });

  it('evaluates NotAction and NotResource as complements', () => {
    const p = parseBucketPolicy(
      policy({
        Effect: 'Deny',
        Principal: '*',
        NotAction: ['s3:GetObject'],
        NotResource: `arn:aws:s3:::${BUCKET}/scratch/*`,
      }),
      BUCKET,
    );
    expect(evaluatePolicy(p, request('s3:PutObject', 'data/x'))).toBe('deny');
    expect(evaluatePolicy(p, request('s3:PutObject', 'scratch/x'))).toBe('none');
    expect(evaluatePolicy(p, request('s3:GetObject', 'data/x'))).toBe('none');
  });

  it('follows IAM for condition keys the request lacks', () => {
    const listUnder = (operator: string, value: string): string =>
      policy({
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${BUCKET}`,
        Condition: { [operator]: { 's3:prefix': value } },
      });
    const list = (context: Record<string, string>) => request('s3:ListBucket', undefined, context);
    const equals = parseBucketPolicy(listUnder('StringEquals', 'pub/'), BUCKET);
    expect(policyIsPublic(equals)).toBe(true); // anyone can ask for that prefix
    expect(evaluatePolicy(equals, list({ 's3:prefix': 'pub/' }))).toBe('allow');
    expect(evaluatePolicy(equals, list({ 's3:prefix': 'pubx/' }))).toBe('none');
    expect(evaluatePolicy(equals, list({}))).toBe('none'); // absent: a positive operator is false
    const notEquals = parseBucketPolicy(listUnder('StringNotEquals', 'secret/'), BUCKET);
    expect(evaluatePolicy(notEquals, list({}))).toBe('allow'); // absent: a negated operator is true
    expect(evaluatePolicy(notEquals, list({ 's3:prefix': 'secret/' }))).toBe('none');
    const like = parseBucketPolicy(listUnder('StringLikeIfExists', 'pub/*'), BUCKET);
    expect(evaluatePolicy(like, list({}))).toBe('allow');
    expect(evaluatePolicy(like, list({ 's3:prefix': 'pub/2024/' }))).toBe('allow');
    expect(evaluatePolicy(like, list({ 's3:prefix': 'priv/' }))).toBe('none');
    const ignoreCase = parseBucketPolicy(listUnder('StringEqualsIgnoreCase', 'PUB/'), BUCKET);
    expect(evaluatePolicy(ignoreCase, list({ 's3:prefix': 'pub/' }))).toBe('allow');
    const isNull = parseBucketPolicy(listUnder('Null', 'true'), BUCKET);
    expect(evaluatePolicy(isNull, list({}))).toBe('allow');
    expect(evaluatePolicy(isNull, list({ 's3:prefix': '' }))).toBe('none');
  });

  it('matches source addresses against CIDR ranges and single addresses', () => {
    const p = parseBucketPolicy(
      policy({
        ...publicRead,
        Condition: { IpAddress: { 'aws:SourceIp': ['10.1.0.0/16', '::1', '192.0.2.7'] } },
      }),
      BUCKET,
    );
    const from = (ip: string) => request('s3:GetObject', 'k', { 'aws:sourceip': ip });
    expect(evaluatePolicy(p, from('10.1.200.3'))).toBe('allow');
    expect(evaluatePolicy(p, from('10.2.0.1'))).toBe('none');
    expect(evaluatePolicy(p, from('::1'))).toBe('allow');
    expect(evaluatePolicy(p, from('192.0.2.7'))).toBe('allow');
    expect(policyIsPublic(p)).toBe(false);
    const outside = parseBucketPolicy(
      policy({
        ...publicRead,
        Effect: 'Deny',
        Condition: { NotIpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
      }),
      BUCKET,
    );
    expect(evaluatePolicy(outside, from('127.0.0.1'))).toBe('none');
    expect(evaluatePolicy(outside, from('10.0.0.1'))).toBe('deny');
  });

  it('evaluates Bool against aws:SecureTransport', () => {
    const p = parseBucketPolicy(
      policy({
        ...publicRead,
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': false } },
      }),
      BUCKET,
    );
    expect(evaluatePolicy(p, request('s3:GetObject', 'k', { 'aws:securetransport': 'false' }))).toBe('deny');
    expect(evaluatePolicy(p, request('s3:GetObject', 'k', { 'aws:securetransport': 'true' }))).toBe('none');
  });
});
