// CORS for browser clients (presigned URLs, the JS SDK running in a page). A bucket with its own
// CORS configuration (PutBucketCors) is answered by its rules, as S3 does: the first rule that
// matches the origin, the method and (for a preflight) every requested header decides. Any other
// bucket falls back to one policy for the whole gateway, as MinIO has it (BLOBCACHE_CORS_ORIGINS).
// Invariants:
// - A preflight (OPTIONS with Origin) is answered here, without authentication (browsers never
//   sign it), and never reaches the S3 handlers.
// - Any other request from an allowed Origin carries the CORS response headers whatever its
//   status, so a page can read an S3 error; a request from any other origin carries none, and
//   the browser refuses it, as it would from S3 without a matching rule.
// - Allowing an origin grants nothing by itself: every S3 request is still authenticated.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CorsRule, matchCorsRule, S3Error } from '@blobcache/s3-protocol';
import { errorParts } from './s3/responses.ts';
import type { ServerHandlers } from './server.ts';

/** `*` = any origin; a list = exactly these (scheme://host[:port]); empty list = CORS off. */
export type CorsOrigins = '*' | readonly string[];

export const CORS_ALLOWED_METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
const ALLOW_METHODS_VALUE = [...CORS_ALLOWED_METHODS].join(', ');
const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';
/** How long a browser may reuse a preflight answer. */
export const PREFLIGHT_MAX_AGE_SEC = 600;
/**
 * Response headers a page may read. Not `*`: browsers honour the wildcard only for requests
 * without credentials. User metadata (`x-amz-meta-*`) has no wildcard form at all.
 */
export const CORS_EXPOSE_HEADERS: readonly string[] = [
  'etag',
  'content-length',
  'content-type',
  'content-range',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'last-modified',
  'accept-ranges',
  'x-amz-request-id',
  'x-amz-id-2',
  'x-amz-version-id',
  'x-amz-delete-marker',
  'x-amz-expiration',
  'x-amz-mp-parts-count',
  'x-amz-checksum-crc32',
  'x-amz-checksum-crc32c',
  'x-amz-checksum-crc64nvme',
  'x-amz-checksum-sha1',
  'x-amz-checksum-sha256',
  'x-amz-checksum-type',
  'x-amz-bucket-region',
  'x-cache',
];
const EXPOSE_HEADERS = CORS_EXPOSE_HEADERS.join(', ');

/** Parses `*`, `none` or a comma-separated list of origins; throws a message on a bad one. */
export function parseCorsOrigins(text: string): CorsOrigins {
  const trimmed = text.trim();
  if (trimmed === '*') return '*';
  if (trimmed.toLowerCase() === 'none') return [];
  const out: string[] = [];
  for (const raw of trimmed.split(',')) {
    const origin = raw.trim();
    if (origin === '') continue;
    // An Origin header is exactly scheme://host[:port]: anything else could never match.
    if (!/^https?:\/\/[^/\s?#]+$/i.test(origin)) {
      throw new Error(`not an origin: "${origin}" (use scheme://host[:port], e.g. http://localhost:5173)`);
    }
    out.push(origin.toLowerCase());
  }
  return out;
}

export class CorsPolicy {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;

  constructor(origins: CorsOrigins) {
    this.#any = origins === '*';
    this.#origins = new Set(origins === '*' ? [] : origins);
  }

  allows(origin: string): boolean {
    return this.#any || this.#origins.has(origin.toLowerCase());
  }

  /**
   * For a request that is not a preflight: the CORS headers when its Origin is allowed. Set on
   * `res` before any handler runs, so every response (errors included) carries them.
   */
  decorate(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (origin === undefined || !this.allows(origin)) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
    res.setHeader('vary', 'Origin');
  }

  /**
   * The answer to an OPTIONS request: the preflight headers, or the S3 error a browser gets
   * (400 without Origin or Access-Control-Request-Method, 403 AccessForbidden when not allowed).
   */
  preflight(req: IncomingMessage): { headers: Record<string, string> } | S3Error {
    const invalid = preflightProblem(req);
    if (invalid) return invalid;
    const origin = req.headers.origin!;
    const method = req.headers['access-control-request-method']!;
    if (!this.allows(origin) || !CORS_ALLOWED_METHODS.has(method.toUpperCase())) {
      return new S3Error('AccessForbidden', undefined, {
        extra: { Method: method, ResourceType: 'OBJECT' },
      });
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': ALLOW_METHODS_VALUE,
      'access-control-expose-headers': EXPOSE_HEADERS,
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SEC),
      vary: PREFLIGHT_VARY,
    };
    // Any request header may be sent (the signature, not CORS, decides what is accepted).
    const requested = req.headers['access-control-request-headers'];
    if (requested !== undefined && requested !== '') headers['access-control-allow-headers'] = requested;
    return { headers };
  }
}

/** The CORS rules of the bucket a request addresses, if it has its own (undefined: the gateway's). */
export type BucketCorsRules = (req: IncomingMessage) => readonly CorsRule[] | undefined;

/** The headers a matched bucket rule answers with (the preflight adds Allow-Headers). */
function ruleHeaders(rules: readonly CorsRule[], origin: string, method: string, requested: string[]) {
  const match = matchCorsRule(rules, origin, method, requested);
  if (match === undefined) return undefined;
  const headers: Record<string, string> = {
    'access-control-allow-origin': match.allowOrigin,
    'access-control-allow-methods': match.rule.allowedMethods.join(', '),
    vary: PREFLIGHT_VARY,
  };
  // A wildcard origin is answered `*`, which browsers never combine with credentials.
  if (match.allowOrigin !== '*') headers['access-control-allow-credentials'] = 'true';
  if (match.rule.exposeHeaders.length > 0)
    headers['access-control-expose-headers'] = match.rule.exposeHeaders.join(', ');
  if (match.rule.maxAgeSeconds !== undefined)
    headers['access-control-max-age'] = String(match.rule.maxAgeSeconds);
  return headers;
}

/** Access-Control-Request-Headers as the lower-cased names S3 matches against AllowedHeader. */
function requestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/**
 * The server's CORS hooks: a bucket's own rules when it has them, else `policy`; a refused
 * preflight is answered as an S3 XML error.
 */
export function corsHandlers(
  policy: CorsPolicy,
  bucketRules: BucketCorsRules = () => undefined,
): NonNullable<ServerHandlers['cors']> {
  return {
    decorate: (req, res) => {
      const rules = bucketRules(req);
      if (rules === undefined) {
        policy.decorate(req, res);
        return;
      }
      const origin = req.headers.origin;
      if (origin === undefined) return;
      const headers = ruleHeaders(rules, origin, (req.method ?? 'GET').toUpperCase(), []);
      if (headers === undefined) return;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    },
    preflight: (req, state) => {
      const rules = bucketRules(req);
      const answer = rules === undefined ? policy.preflight(req) : preflightByRules(req, rules);
      if (answer instanceof S3Error) return errorParts(answer, state, 'OPTIONS', req.url?.split('?')[0]);
      return { status: 200, headers: answer.headers, body: '' };
    },
  };
}

function preflightByRules(
  req: IncomingMessage,
  rules: readonly CorsRule[],
): { headers: Record<string, string> } | S3Error {
  const invalid = preflightProblem(req);
  if (invalid) return invalid;
  const origin = req.headers.origin!;
  const method = req.headers['access-control-request-method']!;
  const requestedValue = req.headers['access-control-request-headers'];
  const headers = ruleHeaders(rules, origin, method, requestedHeaders(requestedValue));
  if (headers === undefined)
    return new S3Error('AccessForbidden', undefined, { extra: { Method: method, ResourceType: 'OBJECT' } });
  if (requestedValue !== undefined && requestedValue.trim() !== '')
    headers['access-control-allow-headers'] = requestedValue;
  return { headers };
}

/** A preflight S3 cannot even evaluate: no Origin, or no Access-Control-Request-Method (400). */
function preflightProblem(req: IncomingMessage): S3Error | undefined {
  if (req.headers.origin === undefined)
    return new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  if (req.headers['access-control-request-method'] === undefined)
    return new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  return undefined;
}
