// Write-through on a mapped bucket: PutObject, DeleteObject, DeleteObjects go to the upstream
// first and succeed only if the upstream accepted them. A PutObject then leaves the new object in
// the cache (write-copy.ts: the verified body is teed into the cache while it streams upstream),
// so the next read hits; every other write drops the cached copy (the next read fills it from the
// upstream's truth).
// Invariants:
// - The upstream never receives the full declared length of a body the gateway has not verified:
//   the last piece is held back until the payload verifier (signatures, Content-MD5, trailing
//   checksums, length) accepted the whole body, so a bad upload is cut short and refused upstream.
// - Each write holds the key's fence from before the upstream call until the cache is settled
//   (new copy committed, or the cached copy gone): reads in flight meanwhile neither commit fills
//   nor record 404s, and coalesced flights are detached, so no read can resurrect a deleted object
//   or hide a new one; a write overlapped by another write to the same key installs nothing.
import { PassThrough } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
  type StorageClass,
} from '@aws-sdk/client-s3';
import {
  deleteEntryConditions,
  el,
  encodeHeaderText,
  MAX_DELETE_KEYS,
  parseDeleteConditions,
  parseDeleteObjects,
  parseStorageClass,
  S3Error,
  validateObjectKey,
  type XmlChild,
} from '@blobcache/s3-protocol';
import type { BucketContext, ObjectContext } from '../s3/context.ts';
import { requestedSse } from '../s3/encryption.ts';
import { readStandardHeaders } from '../s3/object-headers.ts';
import { MAX_DELETE_BODY_BYTES } from '../s3/objects-delete.ts';
import { MAX_PUT_OBJECT_BYTES } from '../s3/objects-put.ts';
import { readVerifiedSmallBody, receivePayload } from '../s3/payload.ts';
import { emptyResponse, xmlResponse } from '../s3/responses.ts';
import { requestedTags, taggingDirective } from '../s3/tagging.ts';
import type { WriteTicket } from './key-fence.ts';
import { cacheKey, type UpstreamCache } from './upstream-cache.ts';
import { upstreamWriteError } from './upstream-errors.ts';
import { WriteCopy } from './write-copy.ts';

/** What a fenced write may do with the fence it holds. */
export type FencedWrite = {
  /** The fence ticket of `key` (one of the fenced keys). */
  ticket(key: string): WriteTicket;
  /** `key`'s cached copy is now this write's own result: do not drop it at the end. */
  keep(key: string): void;
};

/**
 * Holds the fence for `keys` (sorted, deduplicated) around `fn`, then drops the cached copies of
 * the keys `fn` did not `keep`.
 */
export async function fenced<T>(
  up: UpstreamCache,
  ub: string,
  keys: string[],
  fn: (w: FencedWrite) => Promise<T>,
): Promise<T> {
  const unique = [...new Set(keys)].sort();
  const tickets = new Map<string, WriteTicket>();
  for (const k of unique) {
    const ck = cacheKey(ub, k);
    tickets.set(k, up.fence.beginWrite(ck));
    up.forget(ck);
  }
  const kept = new Set<string>();
  const w: FencedWrite = {
    ticket: (key) => {
      const t = tickets.get(key);
      if (!t) throw new Error(`key ${key} is not fenced by this write`);
      return t;
    },
    keep: (key) => {
      kept.add(key);
    },
  };
  try {
    return await fn(w);
  } finally {
    // Whatever the upstream said (a failed call may still have applied), the cached copy goes,
    // unless the write installed its own result (committed under its fence, not overlapped).
    try {
      for (const k of unique) if (!kept.has(k)) await up.purge(ub, k);
    } finally {
      for (const t of tickets.values()) t.end();
    }
  }
}

/** The decoded length a PutObject announced; S3 itself requires one (411 otherwise). */
export function announcedLength(ctx: ObjectContext, maxBytes = MAX_PUT_OBJECT_BYTES): number {
  const raw = ctx.headers['x-amz-decoded-content-length'] ?? ctx.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) throw new S3Error('MissingContentLength');
  const n = Number(raw.trim());
  if (n > maxBytes) {
    throw new S3Error('EntityTooLarge', undefined, {
      extra: { ProposedSize: String(n), MaxSizeAllowed: String(maxBytes) },
    });
  }
  return n;
}

/** Verified body → upstream stream, holding back the final piece until verification passed. */
export function holdBackLast(source: AsyncIterable<Uint8Array>, into: PassThrough): Promise<void> {
  return (async () => {
    let held: Uint8Array | undefined;
    for await (const piece of source) {
      if (held && !into.write(held)) {
        // Destroyed (an early upstream refusal): 'close' may already have fired, never wait on it.
        if (into.destroyed) throw new Error('upstream request ended before the body was sent');
        await new Promise<void>((resolve, reject) => {
          const ok = (): void => {
            into.off('close', gone);
            resolve();
          };
          const gone = (): void => {
            into.off('drain', ok);
            reject(new Error('upstream request ended before the body was sent'));
          };
          into.once('drain', ok);
          into.once('close', gone);
        });
      }
      held = piece;
    }
    into.end(held);
  })();
}

/**
 * Sends a client's body upstream through `send` (which gets the stream and an abort signal),
 * holding back the last piece until the verifier accepted the whole body; on any verification
 * failure the upstream request is aborted, so the upstream never stores it.
 */
export async function sendVerifiedBody<T>(
  up: UpstreamCache,
  key: string,
  source: AsyncIterable<Uint8Array>,
  send: (body: PassThrough, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const body = new PassThrough();
  const abort = new AbortController();
  const sent = send(body, abort.signal);
  // An early refusal (auth, missing bucket) must also stop the pump waiting for `drain`.
  sent.catch(() => body.destroy());
  try {
    await holdBackLast(source, body);
  } catch (err) {
    abort.abort();
    body.destroy();
    await sent.catch(() => {});
    throw err;
  }
  try {
    return await sent;
  } catch (err) {
    throw upstreamWriteError(up.endpoint, err, key);
  }
}

/**
 * User metadata as sent to the upstream: values that are not printable ASCII go as RFC 2047
 * encoded words (what S3 itself answers with), because the SDK's HTTP stack throws on text beyond
 * latin1 and would send latin1 text as raw bytes.
 */
export function upstreamMetadata(meta: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(meta)) out[name] = encodeHeaderText(text);
  return out;
}

/** The request's tagging headers, checked here (InvalidTag before anything is sent) as SDK fields. */
export function taggingFields(ctx: ObjectContext): {
  Tagging?: string;
  TaggingDirective?: 'COPY' | 'REPLACE';
} {
  const tagging = ctx.headers['x-amz-tagging'];
  if (tagging !== undefined) requestedTags(ctx.headers);
  return {
    ...(tagging === undefined ? {} : { Tagging: tagging }),
    ...(ctx.headers['x-amz-tagging-directive'] === undefined
      ? {}
      : { TaggingDirective: taggingDirective(ctx.headers) }),
  };
}

export async function putObjectThrough(up: UpstreamCache, ctx: ObjectContext, ub: string): Promise<Response> {
  validateObjectKey(ctx.key);
  const fields = readStandardHeaders(ctx.headers);
  const length = announcedLength(ctx);
  const ifNoneMatch = ctx.headers['if-none-match'];
  const ifMatch = ctx.headers['if-match'];
  // The upstream encrypts what it stores; KMS requests are refused here as for local buckets.
  const sse = requestedSse(ctx.headers, undefined);
  const storageClass = parseStorageClass(ctx.headers['x-amz-storage-class']);
  const payload = receivePayload(ctx, MAX_PUT_OBJECT_BYTES);
  return fenced(up, ub, [ctx.key], async (w) => {
    const input: PutObjectCommandInput = {
      Bucket: ub,
      Key: ctx.key,
      ContentLength: length,
      ContentType: fields.contentType,
      Metadata: upstreamMetadata(fields.meta),
      ...taggingFields(ctx),
      ...(fields.contentEncoding !== undefined ? { ContentEncoding: fields.contentEncoding } : {}),
      ...(fields.contentDisposition !== undefined ? { ContentDisposition: fields.contentDisposition } : {}),
      ...(fields.contentLanguage !== undefined ? { ContentLanguage: fields.contentLanguage } : {}),
      ...(fields.cacheControl !== undefined ? { CacheControl: fields.cacheControl } : {}),
      ...(fields.expires !== undefined ? { Expires: new Date(fields.expires) } : {}),
      ...(ctx.headers['content-md5'] !== undefined ? { ContentMD5: ctx.headers['content-md5'] } : {}),
      ...(ifNoneMatch !== undefined ? { IfNoneMatch: ifNoneMatch } : {}),
      ...(ifMatch !== undefined ? { IfMatch: ifMatch } : {}),
      ...(sse ? { ServerSideEncryption: 'AES256' as const } : {}),
      ...(storageClass === undefined ? {} : { StorageClass: storageClass as StorageClass }),
    };
    // Objects over the cache's admission limit are relayed only, as on a read miss.
    const copy = up.admits(length) ? new WriteCopy(up, ub, ctx.key, length, payload.body) : undefined;
    let out: PutObjectCommandOutput;
    let digests: ReturnType<typeof payload.finish>;
    try {
      up.counters.inc('upstreamRequests');
      out = await sendVerifiedBody(up, ctx.key, copy?.body ?? payload.body, (Body, abortSignal) =>
        up.client.send(new PutObjectCommand({ ...input, Body }), { abortSignal }),
      );
      digests = payload.finish();
    } catch (err) {
      await copy?.discard();
      throw err;
    }
    up.counters.inc('writeThrough');
    const etag = out.ETag ?? `"${digests.md5.toString('hex')}"`;
    if (copy && (await copy.install({ etag, versionId: out.VersionId }, w.ticket(ctx.key)))) w.keep(ctx.key);
    const headers: Record<string, string> = { etag };
    if (out.VersionId !== undefined) headers['x-amz-version-id'] = out.VersionId;
    if (out.ServerSideEncryption !== undefined)
      headers['x-amz-server-side-encryption'] = out.ServerSideEncryption;
    if (digests.declared) {
      headers[`x-amz-checksum-${digests.checksum.algorithm.toLowerCase()}`] = digests.checksum.value;
      headers['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    return emptyResponse(200, headers);
  });
}

export async function deleteObjectThrough(
  up: UpstreamCache,
  ctx: ObjectContext,
  ub: string,
): Promise<Response> {
  validateObjectKey(ctx.key);
  const versionId = ctx.target.query.get('versionId');
  // Checked here (malformed values refused before anything is sent); the upstream judges its object.
  const c = parseDeleteConditions(ctx.headers);
  return fenced(up, ub, [ctx.key], async () => {
    up.counters.inc('upstreamRequests');
    try {
      const out = await up.client.send(
        new DeleteObjectCommand({
          Bucket: ub,
          Key: ctx.key,
          ...(versionId ? { VersionId: versionId } : {}),
          ...(c.ifMatch !== undefined ? { IfMatch: c.ifMatch } : {}),
          ...(c.lastModified !== undefined ? { IfMatchLastModifiedTime: c.lastModified } : {}),
          ...(c.size !== undefined ? { IfMatchSize: c.size } : {}),
        }),
      );
      up.counters.inc('writeThrough');
      const headers: Record<string, string> = {};
      if (out.VersionId !== undefined) headers['x-amz-version-id'] = out.VersionId;
      if (out.DeleteMarker !== undefined) headers['x-amz-delete-marker'] = String(out.DeleteMarker);
      return emptyResponse(204, headers);
    } catch (err) {
      throw upstreamWriteError(up.endpoint, err, ctx.key);
    }
  });
}

export async function deleteObjectsThrough(
  up: UpstreamCache,
  ctx: BucketContext,
  ub: string,
): Promise<Response> {
  const raw = await readVerifiedSmallBody(ctx, MAX_DELETE_BODY_BYTES, { requireIntegrityHeader: true });
  const request = parseDeleteObjects(raw);
  if (request.objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML');
  const keys = request.objects.map((o) => o.key);
  // Conditions go upstream with the entries (the upstream judges its own objects); malformed
  // ones are refused here, before anything is sent.
  const objects = request.objects.map((o) => {
    const c = parseDeleteConditions(deleteEntryConditions(o));
    return {
      Key: o.key,
      ...(o.versionId !== undefined ? { VersionId: o.versionId } : {}),
      ...(c.ifMatch !== undefined ? { ETag: c.ifMatch } : {}),
      ...(c.lastModified !== undefined ? { LastModifiedTime: c.lastModified } : {}),
      ...(c.size !== undefined ? { Size: c.size } : {}),
    };
  });
  return fenced(up, ub, keys, async () => {
    up.counters.inc('upstreamRequests');
    let out: DeleteObjectsCommandOutput;
    try {
      out = await up.client.send(
        new DeleteObjectsCommand({
          Bucket: ub,
          Delete: {
            Quiet: request.quiet,
            Objects: objects,
          },
        }),
      );
    } catch (err) {
      throw upstreamWriteError(up.endpoint, err);
    }
    up.counters.inc('writeThrough');
    const result = out;
    const children: XmlChild[] = [];
    for (const d of result.Deleted ?? []) {
      children.push(
        el('Deleted', [
          el('Key', String(d.Key ?? '')),
          d.VersionId === undefined ? undefined : el('VersionId', String(d.VersionId)),
          d.DeleteMarker === undefined ? undefined : el('DeleteMarker', Boolean(d.DeleteMarker)),
        ]),
      );
    }
    for (const e of result.Errors ?? []) {
      children.push(
        el('Error', [
          el('Key', String(e.Key ?? '')),
          e.VersionId === undefined ? undefined : el('VersionId', String(e.VersionId)),
          el('Code', String(e.Code ?? 'InternalError')),
          el('Message', String(e.Message ?? '')),
        ]),
      );
    }
    return xmlResponse(el('DeleteResult', children));
  });
}
