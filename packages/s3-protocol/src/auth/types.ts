// The shapes shared by request authentication and payload verification. Invariant: an
// AuthContext is only ever produced by a successful signature check (or an explicitly allowed
// anonymous request) and carries everything the payload verifier needs to check the body
// against the same signature chain.

import type { QueryParam } from '../query.ts';

/** A request as it arrived, before any URL normalisation. */
export interface AuthRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** The path exactly as sent on the request line, before `?` (still percent-encoded). */
  rawPath: string;
  /** The query exactly as sent, without the leading `?` ('' when none). */
  rawQuery: string;
  /** Header names lower-case; repeated headers joined with ',' as node:http does. */
  headers: Readonly<Record<string, string | undefined>>;
  /**
   * For virtual-hosted requests, the bucket taken from the Host header. SigV2 signs
   * `/<bucket><path>`; SigV4 ignores it.
   */
  virtualHostBucket?: string;
  /** `parseQueryParams(rawQuery)` when the caller already split the query (saves a second parse). */
  params?: readonly QueryParam[];
}

/** How the body is protected, from `x-amz-content-sha256` (SigV4) or implied (SigV2). */
export type PayloadMode =
  | 'UNSIGNED-PAYLOAD'
  | 'SIGNED'
  | 'STREAMING-SIGNED'
  | 'STREAMING-SIGNED-TRAILER'
  | 'STREAMING-UNSIGNED-TRAILER';

/** Which mechanism authenticated the request. */
export type AuthMethod = 'sigv4-header' | 'sigv4-query' | 'sigv2-header' | 'sigv2-query' | 'anonymous';

/** The result of a successful authentication. */
export interface AuthContext {
  method: AuthMethod;
  /** Empty string for anonymous requests. */
  accessKeyId: string;
  payloadMode: PayloadMode;
  /** Lower-case hex SHA-256 the client declared for a SIGNED payload. */
  declaredSha256?: string;
  /** The request signature (SigV4): the seed for aws-chunked chunk signatures. */
  seedSignature?: string;
  /** The derived SigV4 signing key (for chunk and trailer signatures). */
  signingKey?: Buffer;
  /** SigV4 credential scope `date/region/s3/aws4_request`. */
  scope?: string;
  /** SigV4 request timestamp, basic format (`20130524T000000Z`). */
  amzDate?: string;
  /** The region named in the SigV4 credential scope. */
  region?: string;
  /** `x-amz-security-token` / `X-Amz-Security-Token` if the client sent one (not validated here). */
  securityToken?: string;
  /** For presigned requests: when the URL stops being valid. */
  expiresAt?: Date;
}

/** Looks up the secret for an access key id; undefined means unknown key (InvalidAccessKeyId). */
export type SecretLookup = (accessKeyId: string) => string | undefined;

/** Policy knobs for authenticate(). */
export interface AuthOptions {
  /** The region this endpoint serves; undefined accepts any region in the credential scope. */
  region?: string;
  /** The current time (injectable for tests). */
  now: Date;
  /** Largest accepted clock difference; S3 uses 15 minutes. */
  maxSkewMs?: number;
  /** Longest accepted presigned URL lifetime; S3 uses 7 days (604800 s). */
  maxPresignSeconds?: number;
  /** Allow requests with no credentials at all (method 'anonymous'). Default false → AccessDenied. */
  allowAnonymous?: boolean;
  /** Reject (AccessDenied) SigV4 header-signed requests carrying unsigned x-amz-* headers. Default true. */
  requireSignedAmzHeaders?: boolean;
}
