// Bucket policies (PutBucketPolicy bodies): parsed, validated and compiled once, then evaluated per
// request by policy-eval.ts. Invariant: a policy is accepted only if every element of it is one
// this module can evaluate exactly. Anything else is refused when it is put, never ignored later:
// an element that was silently skipped would grant or deny what its author did not write.
// - MalformedPolicy (400) for what S3 itself refuses: bad JSON, missing or unknown fields,
//   actions outside `s3:`, resources outside the bucket.
// - NotImplemented (501) for valid policy language blobcache does not evaluate: principals other
//   than everyone ("*": blobcache has one account, so the policy's audience is the anonymous
//   public, plus Deny for everybody), NotPrincipal, policy variables, and condition operators or
//   keys outside the supported set (CONDITION_KEYS, STRING_OPERATORS, ...).

import { BlockList, isIP } from 'node:net';
import { S3Error } from '../errors.ts';

/** S3's limit on a bucket policy document. */
export const MAX_BUCKET_POLICY_BYTES = 20 * 1024;

export type PolicyEffect = 'Allow' | 'Deny';

/** A pattern of IAM's wildcard language (`*` any run, `?` any one character), compiled. */
export type WildcardPattern = RegExp;

export type ConditionTest =
  | {
      kind: 'string';
      key: string;
      values: readonly string[];
      negated: boolean;
      ifExists: boolean;
      /** StringLike / StringNotLike: values are wildcard patterns. */
      patterns?: readonly WildcardPattern[];
      ignoreCase: boolean;
    }
  | { kind: 'bool'; key: string; value: boolean; ifExists: boolean }
  | { kind: 'ip'; key: string; ranges: BlockList; negated: boolean; ifExists: boolean }
  | { kind: 'null'; key: string; absent: boolean };

export interface PolicyStatement {
  readonly sid: string | undefined;
  readonly effect: PolicyEffect;
  /** Action or NotAction patterns (case-insensitive). */
  readonly actions: readonly WildcardPattern[];
  readonly notAction: boolean;
  /** Resource or NotResource ARN patterns. */
  readonly resources: readonly WildcardPattern[];
  readonly notResource: boolean;
  readonly conditions: readonly ConditionTest[];
}

export interface BucketPolicy {
  readonly statements: readonly PolicyStatement[];
}

/** Condition keys blobcache fills in for a request (lower-case, as IAM compares them). */
export const CONDITION_KEYS: ReadonlySet<string> = new Set([
  'aws:sourceip',
  'aws:securetransport',
  'aws:referer',
  'aws:useragent',
  's3:prefix',
  's3:delimiter',
  's3:max-keys',
]);
const IP_KEYS: ReadonlySet<string> = new Set(['aws:sourceip']);
const BOOL_KEYS: ReadonlySet<string> = new Set(['aws:securetransport']);
const STRING_OPERATORS: ReadonlyMap<string, { negated: boolean; like: boolean; ignoreCase: boolean }> =
  new Map([
    ['stringequals', { negated: false, like: false, ignoreCase: false }],
    ['stringnotequals', { negated: true, like: false, ignoreCase: false }],
    ['stringequalsignorecase', { negated: false, like: false, ignoreCase: true }],
    ['stringnotequalsignorecase', { negated: true, like: false, ignoreCase: true }],
    ['stringlike', { negated: false, like: true, ignoreCase: false }],
    ['stringnotlike', { negated: true, like: true, ignoreCase: false }],
  ]);

function malformed(message: string): S3Error {
  return new S3Error('MalformedPolicy', message);
}

function unsupported(what: string): S3Error {
  return new S3Error('NotImplemented', `blobcache does not evaluate ${what} in bucket policies`);
}

/** IAM wildcards to an anchored RegExp (`*` → any run, `?` → any one character; the rest literal). */
export function wildcardPattern(pattern: string, ignoreCase: boolean): WildcardPattern {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[\\^$.|+()[\]{}/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, ignoreCase ? 'iu' : 'u');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field that IAM lets be one string or a non-empty list of strings. */
function stringList(v: unknown, field: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string'))
    throw malformed(`${field} must be a string or a non-empty list of strings`);
  for (const s of list) if (s.includes('${')) throw unsupported(`policy variables (${s})`);
  return list;
}

const STATEMENT_FIELDS: ReadonlySet<string> = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);

/** Only "everyone" is a principal here: `"*"`, `{"AWS": "*"}` or `{"AWS": ["*"]}`. */
function checkPrincipal(p: unknown): void {
  if (p === '*') return;
  if (isPlainObject(p)) {
    const names = Object.keys(p);
    if (names.length === 1 && names[0] === 'AWS') {
      const aws = p.AWS;
      const list = typeof aws === 'string' ? [aws] : aws;
      if (Array.isArray(list) && list.length > 0 && list.every((a) => a === '*')) return;
      if (Array.isArray(list) && list.every((a) => typeof a === 'string'))
        throw unsupported('principals other than "*"');
    } else if (names.length > 0) {
      throw unsupported(`principals of type ${names.join(', ')}`);
    }
  }
  throw malformed('Invalid principal in policy');
}

const ACTION_SYNTAX = /^s3:[A-Za-z*?]+$/i;
const ANY_ACTION = /^\*$/;

function compileActions(v: unknown, field: string): WildcardPattern[] {
  return stringList(v, field).map((a) => {
    if (ANY_ACTION.test(a)) return wildcardPattern('*', true);
    if (!ACTION_SYNTAX.test(a)) throw malformed('Policy has invalid action');
    return wildcardPattern(a, true);
  });
}

const RESOURCE_SYNTAX = /^arn:aws(?:-[a-z-]+)?:s3:::([^/]+)(?:\/(.*))?$/s;

function compileResources(v: unknown, field: string, bucket: string): WildcardPattern[] {
  return stringList(v, field).map((r) => {
    const m = RESOURCE_SYNTAX.exec(r);
    // The bucket part must name this bucket (S3 refuses a policy about other buckets).
    if (!m || !wildcardPattern(m[1]!, false).test(bucket)) throw malformed('Policy has invalid resource');
    return wildcardPattern(`arn:aws:s3:::${m[1]}${m[2] === undefined ? '' : `/${m[2]}`}`, false);
  });
}

function ipRanges(values: string[]): BlockList {
  const list = new BlockList();
  for (const v of values) {
    const [addr, bits, extra] = v.trim().split('/');
    const family = isIP(addr ?? '');
    if (family === 0 || extra !== undefined) throw malformed(`Invalid IP address in policy: ${v}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr!, type);
      continue;
    }
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (prefix < 0 || prefix > (family === 4 ? 32 : 128))
      throw malformed(`Invalid IP address in policy: ${v}`);
    list.addSubnet(addr!, prefix, type);
  }
  return list;
}

/** Condition values are strings, or booleans / numbers that IAM reads as their text. */
function conditionValues(v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw malformed(`${where} has no values`);
  return list.map((x) => {
    if (typeof x === 'string') {
      if (x.includes('${')) throw unsupported(`policy variables (${x})`);
      return x;
    }
    if (typeof x === 'boolean' || typeof x === 'number') return String(x);
    throw malformed(`${where} has an invalid value`);
  });
}

function compileConditions(v: unknown): ConditionTest[] {
  if (!isPlainObject(v)) throw malformed('Condition must be an object');
  const tests: ConditionTest[] = [];
  for (const [operatorName, block] of Object.entries(v)) {
    if (operatorName.includes(':')) throw unsupported(`the condition set operator ${operatorName}`);
    if (!isPlainObject(block)) throw malformed(`Condition ${operatorName} must be an object`);
    const lower = operatorName.toLowerCase();
    const ifExists = lower.endsWith('ifexists') && lower !== 'null';
    const base = ifExists ? lower.slice(0, -'ifexists'.length) : lower;
    for (const [keyName, raw] of Object.entries(block)) {
      const key = keyName.toLowerCase();
      if (!CONDITION_KEYS.has(key)) throw unsupported(`the condition key ${keyName}`);
      const where = `Condition ${operatorName} ${keyName}`;
      const values = conditionValues(raw, where);
      const str = STRING_OPERATORS.get(base);
      if (str) {
        if (IP_KEYS.has(key) || BOOL_KEYS.has(key)) throw malformed(`${where}: the key is not a string`);
        const test: ConditionTest = {
          kind: 'string',
          key,
          values: str.ignoreCase ? values.map((s) => s.toLowerCase()) : values,
          negated: str.negated,
          ifExists,
          ignoreCase: str.ignoreCase,
        };
        if (str.like) test.patterns = values.map((p) => wildcardPattern(p, false));
        tests.push(test);
      } else if (base === 'bool') {
        if (!BOOL_KEYS.has(key)) throw malformed(`${where}: the key is not a boolean`);
        if (values.length !== 1 || !/^(true|false)$/i.test(values[0]!))
          throw malformed(`${where} must be true or false`);
        tests.push({ kind: 'bool', key, value: values[0]!.toLowerCase() === 'true', ifExists });
      } else if (base === 'ipaddress' || base === 'notipaddress') {
        if (!IP_KEYS.has(key)) throw malformed(`${where}: the key is not an IP address`);
        tests.push({ kind: 'ip', key, ranges: ipRanges(values), negated: base === 'notipaddress', ifExists });
      } else if (lower === 'null') {
        if (values.length !== 1 || !/^(true|false)$/i.test(values[0]!))
          throw malformed(`${where} must be true or false`);
        tests.push({ kind: 'null', key, absent: values[0]!.toLowerCase() === 'true' });
      } else {
        throw unsupported(`the condition operator ${operatorName}`);
      }
    }
  }
  return tests;
}

function compileStatement(s: unknown, bucket: string): PolicyStatement {
  if (!isPlainObject(s)) throw malformed('Each statement must be an object');
  for (const field of Object.keys(s))
    if (!STATEMENT_FIELDS.has(field)) throw malformed(`Unknown field ${field}`);
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw malformed('Sid must be a string');
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed('Invalid effect: must be Allow or Deny');
  if (s.NotPrincipal !== undefined) throw unsupported('NotPrincipal');
  if (s.Principal === undefined) throw malformed('Missing required field Principal');
  checkPrincipal(s.Principal);
  if ((s.Action === undefined) === (s.NotAction === undefined))
    throw malformed('Each statement needs exactly one of Action and NotAction');
  if ((s.Resource === undefined) === (s.NotResource === undefined))
    throw malformed('Each statement needs exactly one of Resource and NotResource');
  const notAction = s.NotAction !== undefined;
  const notResource = s.NotResource !== undefined;
  return {
    sid: s.Sid,
    effect: s.Effect,
    actions: compileActions(notAction ? s.NotAction : s.Action, notAction ? 'NotAction' : 'Action'),
    notAction,
    resources: compileResources(
      notResource ? s.NotResource : s.Resource,
      notResource ? 'NotResource' : 'Resource',
      bucket,
    ),
    notResource,
    conditions: s.Condition === undefined ? [] : compileConditions(s.Condition),
  };
}

/**
 * Parses and validates a PutBucketPolicy body for `bucket`. Throws MalformedPolicy (what S3
 * refuses) or NotImplemented (valid policy language blobcache does not evaluate).
 */
export function parseBucketPolicy(text: string, bucket: string): BucketPolicy {
  if (Buffer.byteLength(text, 'utf8') > MAX_BUCKET_POLICY_BYTES)
    throw malformed(`Policies must not exceed ${MAX_BUCKET_POLICY_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  if (!isPlainObject(doc)) throw malformed("Policies must be valid JSON and the first byte must be '{'");
  for (const field of Object.keys(doc))
    if (field !== 'Version' && field !== 'Id' && field !== 'Statement')
      throw malformed(`Unknown field ${field}`);
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17')
    throw malformed('The policy Version must be 2012-10-17 or 2008-10-17');
  if (doc.Id !== undefined && typeof doc.Id !== 'string') throw malformed('Id must be a string');
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) throw malformed('Missing required field Statement');
  return { statements: list.map((s) => compileStatement(s, bucket)) };
}
