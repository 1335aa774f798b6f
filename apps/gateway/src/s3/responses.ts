// Building S3 responses. Invariant: every error leaves as S3 XML with the request id of the
// `x-amz-request-id` header, except on HEAD (and 304), which carry no body.
// The Responses built here also carry their plain parts (status, header record, string/bytes body)
// under a private symbol, so the node:http fast path (write-response.ts) sends them with one
// writeHead + one end without reading them back through the Web Response API.
import {
  renderErrorXml,
  renderXmlDocument,
  S3Error,
  toS3Error,
  uriEncode,
  type XmlElement,
} from '@blobcache/s3-protocol';
import type { GatewayConfig } from '../config.ts';
import type { RequestState } from '../observability/request-state.ts';
import { BodyTooLargeError } from '../store/chunk-writer.ts';
import { BucketGoneError } from '../store/object-store.ts';
import { storeFullError } from './capacity.ts';
import type { BucketContext } from './context.ts';

/** A complete response as plain values; `headers` carries content-length whenever there is a body. */
export type PlainResponseParts = {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
};

const PLAIN_PARTS = Symbol('blobcache.plainResponseParts');

/**
 * A Response whose parts are also kept as given. Hazard: the parts are what gets sent on the fast
 * path, so nothing may change the Response's headers after this (nothing in the gateway does).
 */
export function plainResponse(
  status: number,
  headers: Record<string, string>,
  body: string | Uint8Array | null = null,
): Response {
  const r = new Response(body as ConstructorParameters<typeof Response>[0], { status, headers });
  (r as unknown as Record<symbol, PlainResponseParts>)[PLAIN_PARTS] = { status, headers, body };
  return r;
}

/** The parts of a Response built by `plainResponse`, else undefined. */
export function plainPartsOf(r: Response): PlainResponseParts | undefined {
  return (r as unknown as Record<symbol, PlainResponseParts | undefined>)[PLAIN_PARTS];
}

export function xmlResponse(root: XmlElement, status = 200, headers: Record<string, string> = {}): Response {
  const body = renderXmlDocument(root);
  return plainResponse(
    status,
    { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...headers },
    body,
  );
}

/** A 200 XML response whose document is already rendered. */
export function xmlTextResponse(body: string): Response {
  return plainResponse(
    200,
    { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) },
    body,
  );
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): Response {
  return plainResponse(status, { 'content-length': '0', ...headers });
}

/** The complete error response as plain parts (also used where no Response object fits). */
export function errorParts(
  err: S3Error,
  state: RequestState,
  method: string,
  resource: string | undefined,
): { status: number; headers: Record<string, string>; body: string } {
  state.errorCode = err.code;
  const headers: Record<string, string> = { ...(err.headers ?? {}) };
  if (method === 'HEAD' || err.status === 304) return { status: err.status, headers, body: '' };
  const body = renderErrorXml(err, {
    requestId: state.requestId,
    hostId: state.requestId,
    ...(resource === undefined ? {} : { resource }),
  });
  headers['content-type'] = 'application/xml';
  return { status: err.status, headers, body };
}

export function errorResponse(
  err: S3Error,
  state: RequestState,
  method: string,
  resource?: string,
): Response {
  const p = errorParts(err, state, method, resource);
  p.headers['content-length'] = String(Buffer.byteLength(p.body));
  return plainResponse(p.status, p.headers, p.body === '' ? null : p.body);
}

/** Maps store/engine failures with an S3 meaning; everything else unknown becomes InternalError. */
export function toGatewayError(err: unknown, config: GatewayConfig): S3Error {
  if (err instanceof BucketGoneError) {
    return new S3Error('NoSuchBucket', undefined, { extra: { BucketName: err.bucket } });
  }
  if (err instanceof BodyTooLargeError) {
    return new S3Error('EntityTooLarge', undefined, { extra: { MaxSizeAllowed: String(err.maxBytes) } });
  }
  if (err instanceof Error && (err as { code?: unknown }).code === 'ENGINE_FULL')
    return storeFullError(config, err);
  return toS3Error(err);
}

/** The URL of object `key` as the client addressed the bucket (path or virtual-hosted style). */
export function objectLocation(ctx: BucketContext, key: string): string {
  const host = ctx.headers.host ?? '127.0.0.1';
  const path = ctx.target.virtualHostBucket
    ? `/${uriEncode(key, true)}`
    : `/${ctx.bucket}/${uriEncode(key, true)}`;
  return `http://${host}${path}`;
}
