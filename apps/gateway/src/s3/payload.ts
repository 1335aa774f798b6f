// Request payloads: the verified body of a request plus the digests the gateway stores. The
// verifier (s3-protocol) undoes aws-chunked framing and checks the declared length, chunk and
// trailer signatures, the signed SHA-256, Content-MD5 and any declared x-amz-checksum-*; here we
// only choose what else to compute: the MD5 (ETag) and, when the client declared no checksum, a
// CRC64NVME (S3 stores one for every object since Dec 2024).
// Invariant: `finish()` returns only after the body was read to its end and passed every check.
import {
  type ChecksumAlgorithm,
  parseChecksumHeaders,
  S3Error,
  toBase64,
  verifyPayload,
} from '@blobcache/s3-protocol';
import type { S3Context } from './context.ts';

export type PayloadDigests = {
  bytes: number;
  md5: Buffer;
  checksum: { algorithm: ChecksumAlgorithm; value: string };
  /** True when the checksum was declared (and verified) by the client, not our default. */
  declared: boolean;
};

export type ReceivedPayload = { body: AsyncIterable<Uint8Array>; finish(): PayloadDigests };

/** Throws synchronously for header-level problems, before any body byte is read. */
export function receivePayload(ctx: S3Context, maxPayloadBytes: number): ReceivedPayload {
  const declared = parseChecksumHeaders(ctx.headers);
  const algorithm: ChecksumAlgorithm = declared?.algorithm ?? 'CRC64NVME';
  // The verifier computes (and checks) a declared algorithm itself; the default one is asked for.
  const payload = verifyPayload(ctx.req, ctx.auth, ctx.headers, {
    compute: ['MD5', algorithm],
    maxPayloadBytes,
  });
  return {
    body: payload.body,
    finish: () => {
      const result = payload.result();
      const md5 = result.digests.get('MD5');
      const digest = result.digests.get(algorithm);
      if (!md5 || !digest) throw new Error('payload verifier did not compute the requested digests');
      ctx.state.bytesIn = result.length;
      return {
        bytes: result.length,
        md5,
        checksum: { algorithm, value: toBase64(digest) },
        declared: !!declared,
      };
    },
  };
}

/**
 * Bodies of small XML configurations (CreateBucket, versioning, ACLs, tags). The largest is a
 * bucket Tagging of 50 tags of 128 + 256 four-byte characters: about 77 KB with its XML.
 */
export const MAX_CONFIG_BODY_BYTES = 128 * 1024;

/**
 * The verified body of a small request (CreateBucket, DeleteObjects), at most `maxBytes`
 * (MaxMessageLengthExceeded beyond). With `requireIntegrityHeader`, a Content-MD5 or an
 * x-amz-checksum-* must be present (S3's rule for DeleteObjects); the verifier checks it.
 */
export async function readVerifiedSmallBody(
  ctx: S3Context,
  maxBytes: number,
  opts: { requireIntegrityHeader?: boolean } = {},
): Promise<Buffer> {
  const payload = verifyPayload(ctx.req, ctx.auth, ctx.headers, { compute: ['MD5'] });
  if (opts.requireIntegrityHeader && ctx.headers['content-md5'] === undefined && !payload.declaredChecksum) {
    throw new S3Error(
      'InvalidRequest',
      'Missing required header for this request: Content-MD5 or x-amz-checksum-*',
    );
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const piece of payload.body) {
    total += piece.byteLength;
    if (total > maxBytes) throw new S3Error('MaxMessageLengthExceeded');
    parts.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
  }
  payload.result();
  ctx.state.bytesIn = total;
  return Buffer.concat(parts);
}
