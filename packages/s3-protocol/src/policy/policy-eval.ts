// Evaluating a compiled bucket policy (bucket-policy.ts) for one request, as IAM does: an explicit
// Deny wins over any Allow; without a matching statement the answer is "no opinion", and the
// caller decides what that means (the owner is allowed, the anonymous public is not).
// Hazard: IAM's rule for a condition key the request does not carry. A positive operator
// (StringEquals, IpAddress, Bool) is then false, a negated one (StringNotEquals, NotIpAddress) is
// true, `...IfExists` is true, and `Null` tests exactly that absence. Getting it backwards turns
// "deny unless the prefix is X" into "allow everything".

import type { BucketPolicy, ConditionTest, PolicyStatement } from './bucket-policy.ts';

export interface PolicyRequest {
  /** The IAM action, e.g. `s3:GetObject`. */
  action: string;
  /** `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`. */
  resource: string;
  /** Condition keys the request carries, lower-case names (absent = not in the request context). */
  context: ReadonlyMap<string, string>;
}

export type PolicyDecision = 'allow' | 'deny' | 'none';

/** The ARN of a bucket, or of an object in it. */
export function s3Arn(bucket: string, key?: string): string {
  return key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}

function conditionHolds(t: ConditionTest, context: ReadonlyMap<string, string>): boolean {
  const value = context.get(t.key);
  if (t.kind === 'null') return (value === undefined) === t.absent;
  if (value === undefined) return t.ifExists || ('negated' in t && t.negated);
  switch (t.kind) {
    case 'bool':
      return (value.toLowerCase() === 'true') === t.value;
    case 'ip': {
      const family = value.includes(':') ? 'ipv6' : 'ipv4';
      return t.ranges.check(value, family) !== t.negated;
    }
    case 'string': {
      const v = t.ignoreCase ? value.toLowerCase() : value;
      const any = t.patterns ? t.patterns.some((p) => p.test(v)) : t.values.includes(v);
      return any !== t.negated;
    }
  }
}

function statementApplies(s: PolicyStatement, r: PolicyRequest): boolean {
  if (s.actions.some((p) => p.test(r.action)) === s.notAction) return false;
  if (s.resources.some((p) => p.test(r.resource)) === s.notResource) return false;
  return s.conditions.every((c) => conditionHolds(c, r.context));
}

/** Deny if any Deny statement applies, else allow if any Allow statement applies, else none. */
export function evaluatePolicy(policy: BucketPolicy, r: PolicyRequest): PolicyDecision {
  let allowed = false;
  for (const s of policy.statements) {
    if (!statementApplies(s, r)) continue;
    if (s.effect === 'Deny') return 'deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'none';
}

/**
 * S3's "is this policy public": some Allow statement lets everyone in without pinning the caller
 * to fixed source addresses. Of the condition keys evaluated here only `aws:SourceIp` under
 * IpAddress restricts who may call; a prefix, referer or user-agent condition is met by anyone.
 */
export function policyIsPublic(policy: BucketPolicy): boolean {
  return policy.statements.some(
    (s) => s.effect === 'Allow' && !s.conditions.some((c) => c.kind === 'ip' && !c.negated && !c.ifExists),
  );
}
