// A bucket's CORS configuration (PutBucketCors bodies): parsed and validated as S3 does, rendered
// back for GetBucketCors, and matched against browser requests. Invariant: a rule list returned
// by parseCorsConfiguration has 1-100 rules, each with at least one origin and one method, every
// method one of S3's five, and at most one `*` in each origin and allowed-header pattern, so
// matching never meets a pattern it cannot read.
// S3's matching: the FIRST rule whose origin pattern matches the Origin, whose methods include
// the method (the preflight's Access-Control-Request-Method), and, for a preflight, whose
// AllowedHeader patterns cover every header named in Access-Control-Request-Headers.

import { S3Error } from './errors.ts';
import { el, type XmlElement } from './xml.ts';
import { childElements, childText, parseXml } from './xml-parse.ts';

export const MAX_CORS_RULES = 100;
export const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** The rule a request matched, and the Access-Control-Allow-Origin value S3 answers with it. */
export interface CorsMatch {
  rule: CorsRule;
  /** `*` when the rule allows every origin with `*`, else the request's Origin echoed. */
  allowOrigin: string;
}

function malformed(detail: string): S3Error {
  return new S3Error('MalformedXML', undefined, { cause: new Error(detail) });
}

function oneWildcardAtMost(value: string, what: string): void {
  if (value.indexOf('*') !== value.lastIndexOf('*'))
    throw new S3Error('InvalidRequest', `${what} "${value}" can not have more than one wildcard.`);
}

/** Parses a CORSConfiguration body (MalformedXML / InvalidRequest as S3 answers). */
export function parseCorsConfiguration(body: string | Uint8Array): CorsRule[] {
  const root = parseXml(body);
  if (root.name !== 'CORSConfiguration') throw malformed(`expected <CORSConfiguration>, got <${root.name}>`);
  const ruleNodes = childElements(root, 'CORSRule');
  if (ruleNodes.length === 0) throw malformed('CORSConfiguration without CORSRule');
  if (ruleNodes.length > MAX_CORS_RULES)
    throw new S3Error(
      'InvalidRequest',
      `The number of CORS rules should not exceed allowed limit of ${MAX_CORS_RULES} rules.`,
    );
  return ruleNodes.map((node) => {
    const texts = (name: string): string[] => childElements(node, name).map((c) => c.text.trim());
    const allowedOrigins = texts('AllowedOrigin');
    const allowedMethods = texts('AllowedMethod');
    if (allowedOrigins.length === 0 || allowedMethods.length === 0)
      throw malformed('a CORSRule needs AllowedOrigin and AllowedMethod');
    for (const m of allowedMethods) {
      if (!CORS_METHODS.has(m))
        throw new S3Error(
          'InvalidRequest',
          `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`,
        );
    }
    for (const o of allowedOrigins) oneWildcardAtMost(o, 'AllowedOrigin');
    const allowedHeaders = texts('AllowedHeader');
    for (const h of allowedHeaders) oneWildcardAtMost(h, 'AllowedHeader');
    const rule: CorsRule = {
      allowedOrigins,
      allowedMethods,
      allowedHeaders,
      exposeHeaders: texts('ExposeHeader'),
    };
    const id = childText(node, 'ID');
    if (id !== undefined) {
      if (id.length > 255)
        throw new S3Error('InvalidArgument', 'The ID of a CORS rule is longer than 255 characters');
      rule.id = id;
    }
    const maxAge = childText(node, 'MaxAgeSeconds')?.trim();
    if (maxAge !== undefined) {
      if (!/^\d{1,10}$/.test(maxAge) || Number(maxAge) > 2 ** 31 - 1)
        throw malformed('MaxAgeSeconds is not a number');
      rule.maxAgeSeconds = Number(maxAge);
    }
    return rule;
  });
}

/** The CORSConfiguration document GetBucketCors answers. */
export function corsConfigurationXml(rules: readonly CorsRule[]): XmlElement {
  return el(
    'CORSConfiguration',
    rules.map((r) =>
      el('CORSRule', [
        r.id === undefined ? undefined : el('ID', r.id),
        ...r.allowedHeaders.map((h) => el('AllowedHeader', h)),
        ...r.allowedMethods.map((m) => el('AllowedMethod', m)),
        ...r.allowedOrigins.map((o) => el('AllowedOrigin', o)),
        ...r.exposeHeaders.map((h) => el('ExposeHeader', h)),
        r.maxAgeSeconds === undefined ? undefined : el('MaxAgeSeconds', r.maxAgeSeconds),
      ]),
    ),
  );
}

/** `value` against a pattern with at most one `*` (any run of characters). */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

/**
 * The first rule allowing `origin` to use `method`, with every header of `requestHeaders` (a
 * preflight's Access-Control-Request-Headers, lower-cased; empty for an actual request).
 */
export function matchCorsRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  requestHeaders: readonly string[],
): CorsMatch | undefined {
  for (const rule of rules) {
    const originPattern = rule.allowedOrigins.find((o) => wildcardMatch(o, origin));
    if (originPattern === undefined || !rule.allowedMethods.includes(method)) continue;
    const headersAllowed = requestHeaders.every((h) =>
      rule.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), h)),
    );
    if (!headersAllowed) continue;
    return { rule, allowOrigin: originPattern === '*' ? '*' : origin };
  }
  return undefined;
}
