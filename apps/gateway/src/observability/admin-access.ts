// Who may call the gateway's admin endpoints under `/_blobcache/`.
// Invariant: an admin request is either from a loopback peer (where allowed) or signed with the
// gateway's credentials (SigV4 header or presigned URL), exactly like an S3 request; a failed
// check throws the S3Error (403) the client gets.
import type { IncomingMessage } from 'node:http';
import { parseQuery } from '@blobcache/s3-protocol';
import { isLoopbackHost } from '../config.ts';
import { type Authenticator, authenticateRequest } from '../s3/authenticate.ts';
import { flattenHeaders } from '../s3/context.ts';

/** The request line split the way the signature covers it (raw, undecoded). */
export function rawTarget(req: IncomingMessage): { rawPath: string; rawQuery: string } {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  return q >= 0
    ? { rawPath: rawUrl.slice(0, q), rawQuery: rawUrl.slice(q + 1) }
    : { rawPath: rawUrl, rawQuery: '' };
}

/** Throws unless the request carries a valid signature with the gateway's credentials. */
export function authenticateAdmin(a: Authenticator, req: IncomingMessage): void {
  const { rawPath, rawQuery } = rawTarget(req);
  authenticateRequest(
    a,
    (req.method ?? 'GET').toUpperCase(),
    { rawPath, rawQuery, query: parseQuery(rawQuery) },
    flattenHeaders(req),
  );
}

/** The TCP peer is this machine (IPv4-mapped IPv6 addresses included). */
export function isLoopbackPeer(req: Pick<IncomingMessage, 'socket'>): boolean {
  const addr = req.socket.remoteAddress ?? '';
  return isLoopbackHost(addr.startsWith('::ffff:') ? addr.slice(7) : addr);
}

/** Read-only admin data (metrics): open to loopback peers, signed requests from anywhere else. */
export function requireLocalOrSigned(a: Authenticator, req: IncomingMessage): void {
  if (!isLoopbackPeer(req)) authenticateAdmin(a, req);
}
