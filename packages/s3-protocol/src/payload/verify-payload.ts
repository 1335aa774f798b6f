// Turning a request body into verified payload bytes. Invariant: `body` yields exactly the object
// bytes (framing removed) and finishes without throwing only if every integrity promise the
// request made holds: the declared length, the signed SHA-256, every chunk and trailer
// signature, Content-MD5 and the declared x-amz-checksum-*. Header-level problems (a malformed
// Content-MD5 or checksum header, an impossible mode) throw synchronously from verifyPayload,
// before any byte is read, so the gateway can answer without consuming the body.
//
// Hazard: bytes are yielded before the final verdict (a hash is only known at the end). The
// caller must write them provisionally and commit only after `body` completes; `result()` is
// available only then.

import type { AuthContext } from '../auth/types.ts';
import {
  type ChecksumAlgorithm,
  createHasher,
  type HashAlgorithm,
  type Hasher,
  toBase64,
} from '../checksums/hashers.ts';
import {
  checksumHeaderName,
  type DeclaredChecksum,
  isBase64OfLength,
  parseChecksumHeaders,
} from '../checksums/headers.ts';
import { S3Error } from '../errors.ts';
import { decodeAwsChunked } from './aws-chunked.ts';

/** Options for verifyPayload. */
export interface VerifyPayloadOptions {
  /** Extra digests to compute over the payload (e.g. ['MD5', 'CRC64NVME'] for ETag and default checksum). */
  compute?: readonly HashAlgorithm[];
  /** Reject payloads larger than this (EntityTooLarge). Default: no limit. */
  maxPayloadBytes?: number;
  /** Longest aws-chunked chunk-header line, in bytes. Default 4096. */
  maxChunkHeaderBytes?: number;
  /** Largest aws-chunked trailer section, in bytes. Default 16384. */
  maxTrailerBytes?: number;
}

/** The verdict once the body has been read to its end. */
export interface PayloadResult {
  /** Payload bytes yielded. */
  length: number;
  /** Trailing headers (aws-chunked), lower-case names. */
  trailers: ReadonlyMap<string, string>;
  /** The client's declared checksum, verified (header or trailer). */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** Raw digests computed over the payload: every `compute` algorithm, the declared one, and MD5 when Content-MD5 was sent. */
  digests: ReadonlyMap<HashAlgorithm, Buffer>;
}

/** A body being verified: iterate `body`; call `result()` after it completed. */
export interface VerifiedPayload {
  readonly body: AsyncGenerator<Uint8Array, void, undefined>;
  /** True when the body is aws-chunked framed (and is being decoded). */
  readonly chunked: boolean;
  /** The declared checksum, known from the headers before the body is read. */
  readonly declaredChecksum: DeclaredChecksum | undefined;
  result(): PayloadResult;
}

type Headers = Readonly<Record<string, string | undefined>>;

/** Remove the `aws-chunked` token from Content-Encoding: `gzip, aws-chunked` → `gzip`; `aws-chunked` → undefined. */
export function stripAwsChunkedEncoding(contentEncoding: string | undefined): string | undefined {
  if (contentEncoding === undefined) return undefined;
  const kept = contentEncoding
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t.toLowerCase() !== 'aws-chunked');
  return kept.length === 0 ? undefined : kept.join(', ');
}

function hasAwsChunked(contentEncoding: string | undefined): boolean {
  return contentEncoding?.split(',').some((t) => t.trim().toLowerCase() === 'aws-chunked') === true;
}

function parseLength(value: string | undefined, header: string): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new S3Error('InvalidArgument', `${header} is not a valid length`, {
      extra: { ArgumentName: header },
    });
  }
  return Number(v);
}

/**
 * Wrap a raw request body so that it yields only verified payload bytes. `headers` are the
 * request headers (lower-case names). Throws synchronously for header-level problems.
 */
export function verifyPayload(
  source: AsyncIterable<Uint8Array>,
  auth: AuthContext,
  headers: Headers,
  options: VerifyPayloadOptions = {},
): VerifiedPayload {
  const mode = auth.payloadMode;
  const streaming = mode.startsWith('STREAMING-');
  const chunked = streaming || hasAwsChunked(headers['content-encoding']);
  if (chunked && mode === 'SIGNED') {
    throw new S3Error('InvalidRequest', 'An aws-chunked body needs a STREAMING-* x-amz-content-sha256 value');
  }
  const signed = mode === 'STREAMING-SIGNED' || mode === 'STREAMING-SIGNED-TRAILER';
  if (signed && (!auth.signingKey || !auth.seedSignature || !auth.amzDate || !auth.scope)) {
    throw new S3Error('InvalidRequest', 'Signed aws-chunked payloads require SigV4 header authentication');
  }

  const declared = parseChecksumHeaders(headers);
  const trailersAllowed =
    mode === 'STREAMING-SIGNED-TRAILER' || mode === 'STREAMING-UNSIGNED-TRAILER' || (chunked && !streaming);
  if (declared?.source === 'trailer' && !(chunked && trailersAllowed)) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer requires a STREAMING-*-TRAILER payload');
  }

  const contentMd5 = headers['content-md5']?.trim();
  if (contentMd5 !== undefined && !isBase64OfLength(contentMd5, 16)) {
    throw new S3Error('InvalidDigest', undefined, { extra: { 'Content-MD5': contentMd5 } });
  }

  const expectedLength = chunked
    ? parseLength(headers['x-amz-decoded-content-length'], 'x-amz-decoded-content-length')
    : parseLength(headers['content-length'], 'content-length');
  const maxPayload = options.maxPayloadBytes;
  if (maxPayload !== undefined && expectedLength !== undefined && expectedLength > maxPayload) {
    throw new S3Error('EntityTooLarge', undefined, {
      extra: { ProposedSize: String(expectedLength), MaxSizeAllowed: String(maxPayload) },
    });
  }

  const hashers = new Map<HashAlgorithm, Hasher>();
  const want = (a: HashAlgorithm): void => {
    if (!hashers.has(a)) hashers.set(a, createHasher(a));
  };
  for (const a of options.compute ?? []) want(a);
  if (declared) want(declared.algorithm);
  if (contentMd5 !== undefined) want('MD5');
  if (mode === 'SIGNED' && !chunked) want('SHA256');
  const hasherList = [...hashers.values()];

  let trailers: Map<string, string> = new Map();
  let finalResult: PayloadResult | undefined;

  const decoded: AsyncIterable<Uint8Array> = chunked
    ? decodeAwsChunked(source, {
        ...(signed
          ? {
              signing: {
                signingKey: auth.signingKey!,
                seedSignature: auth.seedSignature!,
                amzDate: auth.amzDate!,
                scope: auth.scope!,
              },
            }
          : {}),
        trailers: trailersAllowed,
        // Only announced trailers are accepted: an unannounced checksum could not be verified.
        announcedTrailers: new Set(
          (headers['x-amz-trailer'] ?? '')
            .split(',')
            .map((t) => t.trim().toLowerCase())
            .filter((t) => t !== ''),
        ),
        signedTrailer: mode === 'STREAMING-SIGNED-TRAILER',
        maxChunkHeaderBytes: options.maxChunkHeaderBytes ?? 4096,
        maxTrailerBytes: options.maxTrailerBytes ?? 16_384,
        onTrailers: (t) => {
          trailers = t;
        },
      })
    : source;

  async function* run(): AsyncGenerator<Uint8Array, void, undefined> {
    let length = 0;
    for await (const piece of decoded) {
      if (piece.length === 0) continue;
      length += piece.length;
      if (expectedLength !== undefined && length > expectedLength) {
        throw new S3Error('InvalidRequest', 'The body is longer than its declared length', {
          extra: { ExpectedLength: String(expectedLength) },
        });
      }
      if (maxPayload !== undefined && length > maxPayload) {
        throw new S3Error('EntityTooLarge', undefined, { extra: { MaxSizeAllowed: String(maxPayload) } });
      }
      for (const h of hasherList) h.update(piece);
      yield piece;
    }
    if (expectedLength !== undefined && length !== expectedLength) {
      throw new S3Error('IncompleteBody', undefined, {
        extra: { ExpectedLength: String(expectedLength), ReceivedLength: String(length) },
      });
    }
    const digests = new Map<HashAlgorithm, Buffer>();
    for (const [a, h] of hashers) digests.set(a, h.digest());

    if (mode === 'SIGNED' && auth.declaredSha256 !== undefined) {
      const computed = digests.get('SHA256')!.toString('hex');
      if (computed !== auth.declaredSha256) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
          extra: { ClientComputedContentSHA256: auth.declaredSha256, S3ComputedContentSHA256: computed },
        });
      }
    }
    if (contentMd5 !== undefined) {
      const computed = toBase64(digests.get('MD5')!);
      if (computed !== contentMd5) {
        throw new S3Error('BadDigest', undefined, {
          extra: {
            ExpectedDigest: Buffer.from(contentMd5, 'base64').toString('hex'),
            CalculatedDigest: computed,
          },
        });
      }
    }
    let checksum: PayloadResult['checksum'];
    if (declared) {
      let value = declared.value;
      if (declared.source === 'trailer') {
        value = trailers.get(checksumHeaderName(declared.algorithm));
        if (value === undefined) {
          throw new S3Error(
            'MalformedTrailerError',
            `The ${checksumHeaderName(declared.algorithm)} trailer was announced but not sent`,
          );
        }
        if (!isBase64OfLength(value, digests.get(declared.algorithm)!.length)) {
          throw new S3Error(
            'InvalidRequest',
            `Value for ${checksumHeaderName(declared.algorithm)} trailing header is invalid.`,
          );
        }
      }
      const computed = toBase64(digests.get(declared.algorithm)!);
      if (computed !== value) {
        throw new S3Error(
          'BadDigest',
          `The ${declared.algorithm} you specified did not match the calculated checksum.`,
        );
      }
      checksum = { algorithm: declared.algorithm, value: computed };
    }
    finalResult = { length, trailers, digests, ...(checksum ? { checksum } : {}) };
  }

  return {
    body: run(),
    chunked,
    declaredChecksum: declared,
    result(): PayloadResult {
      if (!finalResult)
        throw new Error('verifyPayload: result() called before the body completed successfully');
      return finalResult;
    },
  };
}
