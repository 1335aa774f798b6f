// Upstream GetObject/HeadObject metadata as the store's head fields.
// Invariant: the cached head says exactly what upstream reported (ETag, size, content type and
// the other standard headers, user metadata, Last-Modified), so a hit is indistinguishable from
// the upstream's own answer.
import { DEFAULT_CONTENT_TYPE } from '../s3/object-headers.ts';
import type { HeadFields } from '../store/object-store.ts';

export type UpstreamObjectMeta = {
  ContentLength?: number | undefined;
  ETag?: string | undefined;
  LastModified?: Date | undefined;
  ContentType?: string | undefined;
  ContentEncoding?: string | undefined;
  ContentDisposition?: string | undefined;
  ContentLanguage?: string | undefined;
  CacheControl?: string | undefined;
  ExpiresString?: string | undefined;
  Expires?: Date | undefined;
  Metadata?: Record<string, string> | undefined;
  PartsCount?: number | undefined;
};

export class UpstreamMetadataError extends Error {
  override name = 'UpstreamMetadataError';
}

export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** Head fields for a whole-object upstream response; throws when upstream omitted size or ETag. */
export function headFieldsFrom(out: UpstreamObjectMeta): HeadFields {
  if (out.ContentLength === undefined || out.ETag === undefined) {
    throw new UpstreamMetadataError('upstream response lacks Content-Length or ETag');
  }
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.Metadata ?? {})) meta[k.toLowerCase()] = v;
  const fields: HeadFields = {
    size: out.ContentLength,
    etag: unquoteEtag(out.ETag),
    lastModifiedMs: out.LastModified?.getTime() ?? Date.now(),
    contentType: out.ContentType ?? DEFAULT_CONTENT_TYPE,
    meta,
    checksums: {},
  };
  if (out.ContentEncoding !== undefined) fields.contentEncoding = out.ContentEncoding;
  if (out.ContentDisposition !== undefined) fields.contentDisposition = out.ContentDisposition;
  if (out.ContentLanguage !== undefined) fields.contentLanguage = out.ContentLanguage;
  if (out.CacheControl !== undefined) fields.cacheControl = out.CacheControl;
  const expires = out.ExpiresString ?? out.Expires?.toUTCString();
  if (expires !== undefined) fields.expires = expires;
  return fields;
}
