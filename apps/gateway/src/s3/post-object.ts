// POST Object: browser-based uploads with an HTML form (what `createPresignedPost` and boto3's
// `generate_presigned_post` produce). The form authenticates itself: a signed policy bounds the
// key, the fields and the file size (s3-protocol verifyPostPolicy), so the request itself carries
// no signature. A form without a policy is the anonymous public's, let in only where the bucket
// policy allows s3:PutObject on its key (authorize.ts), as S3 does; a signed form's key is still
// subject to the bucket policy's Deny. Invariants: nothing is stored before the policy verified
// and the bucket policy agreed; the file streams into
// the store like a PutObject body (never buffered whole) and a file outside the policy's
// content-length-range is refused without a trace; 2xx only after the head commit (durable).
import {
  checkAclHeaders,
  el,
  type PostPolicyGrant,
  parseStorageClass,
  parseTagging,
  S3Error,
  toBase64,
  validateObjectKey,
  verifyPostPolicy,
} from '@blobcache/s3-protocol';
import { authorizeObjectAction } from './authorize.ts';
import { checkCapacity } from './capacity.ts';
import type { BucketContext } from './context.ts';
import { digestOf, hashersFor, hashing } from './copy-source.ts';
import { requestedSse } from './encryption.ts';
import { formBoundary, type PostForm, readPostForm } from './form-data.ts';
import { readStandardHeaders } from './object-headers.ts';
import { MAX_PUT_OBJECT_BYTES, rejectUnsupportedWriteHeaders } from './objects-put.ts';
import { requireBucket } from './require-bucket.ts';
import { emptyResponse, objectLocation, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** S3 puts the file part's filename where the key says `${filename}`. */
const FILENAME_VARIABLE = '$' + '{filename}';

/** A POST with a form body and no signature of its own: the form's policy authenticates it. */
export function isPostObjectForm(
  method: string,
  target: { bucket?: string | undefined; key?: string | undefined; rawQuery: string },
  headers: Readonly<Record<string, string | undefined>>,
): boolean {
  return (
    method === 'POST' &&
    target.bucket !== undefined &&
    target.key === undefined &&
    target.rawQuery === '' &&
    headers.authorization === undefined &&
    formBoundary(headers['content-type']) !== undefined
  );
}

/** Passes the file through while enforcing the policy's size range (and S3's 5 GiB). */
async function* sizeChecked(
  file: AsyncIterable<Uint8Array>,
  minBytes: number,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const piece of file) {
    total += piece.byteLength;
    if (total > maxBytes) {
      throw new S3Error('EntityTooLarge', undefined, {
        extra: { ProposedSize: String(total), MaxSizeAllowed: String(maxBytes) },
      });
    }
    yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  }
  if (total < minBytes) {
    throw new S3Error('EntityTooSmall', undefined, {
      extra: { ProposedSize: String(total), MinSizeAllowed: String(minBytes) },
    });
  }
}

/** The form's fields as the request headers a PutObject would carry them in. */
function headersOf(form: PostForm): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of form.fields) headers[name] = value;
  headers['content-type'] ??= form.fileContentType;
  return headers;
}

async function postObject(ctx: BucketContext): Promise<Response> {
  const boundary = formBoundary(ctx.headers['content-type']);
  if (boundary === undefined) throw new S3Error('MalformedPOSTRequest');
  const form = await readPostForm(ctx.req, boundary);
  const fields = new Map(form.fields);
  // The bucket a policy names is the one in the URL.
  fields.set('bucket', ctx.bucket);
  // A form without a policy is the anonymous public's: only a bucket policy can let it in.
  const signed = fields.has('policy');
  const grant: PostPolicyGrant = signed
    ? verifyPostPolicy(fields, ctx.lookupSecret, { region: ctx.config.region, now: new Date() })
    : { accessKeyId: '' };
  ctx.auth = { ...ctx.auth, accessKeyId: grant.accessKeyId };
  const keyField = fields.get('key');
  if (keyField === undefined) {
    throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.", {
      extra: { ArgumentName: 'key', ArgumentValue: '' },
    });
  }
  const key = keyField.replaceAll(FILENAME_VARIABLE, form.filename ?? '');
  validateObjectKey(key);
  ctx.state.key = key;
  authorizeObjectAction(ctx.store, ctx, 'PostObject', key, !signed);
  const headers = headersOf(form);
  rejectUnsupportedWriteHeaders({ ...ctx, headers, key });
  if (fields.has('acl')) checkAclHeaders({ 'x-amz-acl': fields.get('acl') }, 'object');
  const tagging = fields.get('tagging');
  const tags = tagging === undefined ? [] : parseTagging(tagging);
  const standard = readStandardHeaders(headers);
  const storageClass = parseStorageClass(headers['x-amz-storage-class']);
  const sse = requestedSse(headers, await requireBucket(ctx));
  checkCapacity(ctx, grant.minBytes ?? 0);

  const hashers = hashersFor(['MD5', 'CRC64NVME']);
  const maxBytes = Math.min(grant.maxBytes ?? MAX_PUT_OBJECT_BYTES, MAX_PUT_OBJECT_BYTES);
  const pending = await ctx.store.beginWrite(ctx.bucket, key, { sse });
  let etag: string;
  try {
    const file = hashing(sizeChecked(form.file, grant.minBytes ?? 0, maxBytes), [...hashers.values()]);
    const written = await pending.write(file, maxBytes);
    ctx.state.bytesIn = written.bytes;
    const head = await pending.commit({
      ...standard,
      ...(storageClass === undefined ? {} : { storageClass }),
      ...(tags.length > 0 ? { tags } : {}),
      size: written.bytes,
      etag: digestOf(hashers, 'MD5').toString('hex'),
      lastModifiedMs: Date.now(),
      checksums: { CRC64NVME: toBase64(digestOf(hashers, 'CRC64NVME')) },
      checksumType: 'FULL_OBJECT',
    });
    etag = `"${head.etag}"`;
  } catch (err) {
    await pending.abort();
    throw err;
  }

  const location = objectLocation(ctx, key);
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect !== undefined && /^https?:\/\//i.test(redirect)) {
    const to = new URL(redirect);
    to.searchParams.set('bucket', ctx.bucket);
    to.searchParams.set('key', key);
    to.searchParams.set('etag', etag);
    return emptyResponse(303, { location: to.toString(), etag });
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    return xmlResponse(
      el('PostResponse', [
        el('Location', location),
        el('Bucket', ctx.bucket),
        el('Key', key),
        el('ETag', etag),
      ]),
      201,
      { etag, location },
    );
  }
  return emptyResponse(status === '200' ? 200 : 204, { etag, location });
}

export const postObjectRoutes: S3Route[] = [
  {
    operation: 'PostObject',
    method: 'POST',
    level: 'bucket',
    when: (ctx) => formBoundary(ctx.headers['content-type']) !== undefined,
    handle: postObject,
  },
];
