// PutObject. The body streams socket → payload verifier (aws-chunked, signatures, trailer) →
// MD5 + checksum hashers → 1 MiB chunk puts → head commit; nothing buffers the whole body.
// Invariants:
// - 200 is sent only after the head put resolved (durable), so an acknowledged PUT survives kill -9.
// - Any failure after the first chunk write discards the new version's chunks; the previous object
//   stays intact and readable throughout.
// - Preconditions (If-None-Match: *, If-Match) are checked before reading the body and again,
//   atomically, at commit.
import {
  checkAclHeaders,
  evaluateWriteConditionals,
  parseStorageClass,
  S3Error,
  validateObjectKey,
} from '@blobcache/s3-protocol';
import type { ObjectHead } from '../store/object-head.ts';
import type { CommitCheck } from '../store/object-store.ts';
import { expirationHeader } from './bucket-lifecycle.ts';
import { checkCapacity } from './capacity.ts';
import type { ObjectContext } from './context.ts';
import { requestedSse, sseResponseHeaders } from './encryption.ts';
import { objectVersion, readStandardHeaders } from './object-headers.ts';
import { receivePayload } from './payload.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse } from './responses.ts';
import type { S3Route } from './route.ts';
import { requestedTags } from './tagging.ts';

/** S3's single-PUT limit. */
export const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;

/**
 * Request headers asking for features the gateway does not have. Accepting them silently would
 * claim locks, customer-key encryption or redirects that are not there, so they answer 501.
 */
const UNSUPPORTED_WRITE_HEADERS = [
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-website-redirect-location',
];

export function rejectUnsupportedWriteHeaders(ctx: ObjectContext): void {
  const found = UNSUPPORTED_WRITE_HEADERS.find((h) => ctx.headers[h] !== undefined);
  if (found !== undefined)
    throw new S3Error('NotImplemented', `blobcache does not implement the ${found} header`);
  // ACLs are disabled, as on S3 by default: owner-only ACLs pass, anything else is refused (400).
  checkAclHeaders(ctx.headers, 'object');
}

/** The write preconditions of a PUT (also used by CompleteMultipartUpload). */
export function writePrecondition(ctx: ObjectContext): CommitCheck | undefined {
  const ifNoneMatch = ctx.headers['if-none-match'];
  if (ifNoneMatch === undefined && ctx.headers['if-match'] === undefined) return undefined;
  // An If-None-Match other than `*` is NotImplemented whatever is stored: refuse it now, before
  // the caller reads a body (evaluated against "no object", only that header can throw).
  if (ifNoneMatch !== undefined) evaluateWriteConditionals({ 'if-none-match': ifNoneMatch }, undefined);
  return (current: ObjectHead | undefined) =>
    evaluateWriteConditionals(ctx.headers, current && objectVersion(current), ctx.key);
}

/** The payload length the client announced (decoded length for aws-chunked bodies), if any. */
export function declaredLength(ctx: ObjectContext): number | undefined {
  const raw = ctx.headers['x-amz-decoded-content-length'] ?? ctx.headers['content-length'];
  if (raw === undefined) {
    if (ctx.headers['transfer-encoding'] === undefined) throw new S3Error('MissingContentLength');
    return undefined;
  }
  if (!/^\d+$/.test(raw.trim())) throw new S3Error('InvalidArgument', 'Content-Length is not a number');
  return Number(raw.trim());
}

async function putObject(ctx: ObjectContext): Promise<Response> {
  validateObjectKey(ctx.key);
  rejectUnsupportedWriteHeaders(ctx);
  const record = await requireBucket(ctx);
  const sse = requestedSse(ctx.headers, record);
  const storageClass = parseStorageClass(ctx.headers['x-amz-storage-class']);
  const fields = {
    ...readStandardHeaders(ctx.headers),
    ...requestedTags(ctx.headers),
    ...(storageClass === undefined ? {} : { storageClass }),
  };
  const length = declaredLength(ctx);
  if (length !== undefined && length > MAX_PUT_OBJECT_BYTES) {
    throw new S3Error('EntityTooLarge', undefined, {
      extra: { ProposedSize: String(length), MaxSizeAllowed: String(MAX_PUT_OBJECT_BYTES) },
    });
  }
  checkCapacity(ctx, length ?? 0);
  const check = writePrecondition(ctx);
  if (check) check(await ctx.store.getHead(ctx.bucket, ctx.key));
  // Header-level problems (bad Content-MD5, checksum headers, payload mode) throw here, before
  // anything is written.
  const payload = receivePayload(ctx, MAX_PUT_OBJECT_BYTES);

  const pending = await ctx.store.beginWrite(ctx.bucket, ctx.key, { sse });
  try {
    const written = await pending.write(payload.body, MAX_PUT_OBJECT_BYTES);
    const digests = payload.finish();
    if (digests.bytes !== written.bytes)
      throw new Error('payload verifier and chunk writer disagree on the size');
    const head = await pending.commit(
      {
        ...fields,
        size: written.bytes,
        etag: digests.md5.toString('hex'),
        lastModifiedMs: Date.now(),
        checksums: { [digests.checksum.algorithm]: digests.checksum.value },
        checksumType: 'FULL_OBJECT',
      },
      check,
    );
    const headers: Record<string, string> = { etag: `"${head.etag}"`, ...sseResponseHeaders(head) };
    const expiration = expirationHeader(ctx.store.cachedBucket(ctx.bucket), ctx.key, head);
    if (expiration !== undefined) headers['x-amz-expiration'] = expiration;
    if (digests.declared) {
      headers[`x-amz-checksum-${digests.checksum.algorithm.toLowerCase()}`] = digests.checksum.value;
      headers['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    return emptyResponse(200, headers);
  } catch (err) {
    await pending.abort();
    throw err;
  }
}

export const putObjectRoutes: S3Route[] = [
  { operation: 'PutObject', method: 'PUT', level: 'object', handle: putObject },
];
