// What every S3 operation handler receives. Handlers return a Response (or RESPONSE_ALREADY_SENT
// after streaming straight to `res`), and throw S3Error for anything the client did wrong.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthContext } from '@blobcache/s3-protocol';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { RequestState } from '../observability/request-state.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { RequestTarget } from './request-target.ts';

export type Headers = Readonly<Record<string, string | undefined>>;

export type S3Context = {
  req: IncomingMessage;
  res: ServerResponse;
  state: RequestState;
  /** Upper-case method. */
  method: string;
  target: RequestTarget;
  /** Request headers, lower-case names, repeated headers joined with ','. */
  headers: Headers;
  auth: AuthContext;
  config: GatewayConfig;
  /** The secret of a configured access key (POST Object verifies its form's signature itself). */
  lookupSecret: (accessKeyId: string) => string | undefined;
  store: ObjectStore;
  logger: Logger;
  /**
   * Set when a bucket policy must also judge objects named in the body (DeleteObjects' keys):
   * throws AccessDenied for an object the requester may not act on (s3/authorize.ts).
   */
  authorizeObject?: (action: string, key: string) => void;
  /** The lifecycle sweeper, to act on a rule just put (store/lifecycle-sweep.ts). */
  lifecycle?: { nudge(): void } | undefined;
};

/** A bucket-level or object-level context: the route guarantees these are present. */
export type BucketContext = S3Context & { bucket: string };
export type ObjectContext = S3Context & { bucket: string; key: string };

/** node:http's headers flattened to single strings. */
export function flattenHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers = req.headers;
  const out: Record<string, string | undefined> = {};
  // for-in over node's own header object: no entries array per request.
  for (const name in headers) {
    const value = headers[name];
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}
