// Authentication of every S3 request, from the request line and headers only (the body is checked
// later, while it streams, by the payload verifier bound to the same AuthContext).
import { type AuthContext, type AuthRequest, authenticate } from '@blobcache/s3-protocol';
import type { Credential } from '../config.ts';
import type { Headers } from './context.ts';
import type { RequestTarget } from './request-target.ts';

export type Authenticator = {
  region: string;
  lookupSecret: (accessKeyId: string) => string | undefined;
};

/** S3's limits: 15 minutes of clock skew, presigned URLs valid at most 7 days. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export function createAuthenticator(credentials: readonly Credential[], region: string): Authenticator {
  const secrets = new Map(credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  return { region, lookupSecret: (id) => secrets.get(id) };
}

/**
 * `allowAnonymous`: a request without credentials gets an anonymous AuthContext instead of
 * AccessDenied (S3 requests: what it may do is then the bucket policy's call, s3/authorize.ts).
 */
export function authenticateRequest(
  a: Authenticator,
  method: string,
  target: RequestTarget,
  headers: Headers,
  allowAnonymous = false,
): AuthContext {
  const req: AuthRequest = { method, rawPath: target.rawPath, rawQuery: target.rawQuery, headers };
  if (target.virtualHostBucket !== undefined) req.virtualHostBucket = target.virtualHostBucket;
  if (target.queryParams !== undefined) req.params = target.queryParams;
  return authenticate(req, a.lookupSecret, {
    region: a.region,
    now: new Date(),
    maxSkewMs: MAX_SKEW_MS,
    maxPresignSeconds: MAX_PRESIGN_SECONDS,
    allowAnonymous,
  });
}
