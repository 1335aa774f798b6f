// Multipart-upload rules that need no storage. Invariant: resolveCompletedParts returns the
// uploaded parts a CompleteMultipartUpload request names, in order, only if each named part
// exists with the named ETag (and checksum, when given) and every part but the last meets the
// minimum size; otherwise it throws the S3 error for the first violation.

import type { ChecksumAlgorithm } from './checksums/hashers.ts';
import { S3Error } from './errors.ts';
import { normalizeEtag } from './etag.ts';
import { type CompletedPart, MAX_PART_NUMBER } from './request-bodies.ts';

/** Smallest part S3 accepts, except for the last part of an upload. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest single part (and single PUT) S3 accepts. */
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;

/** Parse the `partNumber` query parameter: an integer in 1..10000, else InvalidArgument. */
export function parsePartNumber(value: string | undefined): number {
  const n = value !== undefined && /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      {
        extra: { ArgumentName: 'partNumber', ArgumentValue: value ?? '' },
      },
    );
  }
  return n;
}

/**
 * Parse a page-size parameter (`max-keys`, `max-parts`, `max-uploads`): a non-negative integer,
 * capped at `cap` (S3: 1000); absent → `cap`; otherwise InvalidArgument.
 */
export function parseMaxCount(value: string | undefined, name: string, cap = 1000): number {
  if (value === undefined || value === '') return cap;
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isNaN(n)) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      extra: { ArgumentName: name, ArgumentValue: value },
    });
  }
  return Math.min(n, cap);
}

/** A part as stored by the gateway. */
export interface UploadedPart {
  partNumber: number;
  /** The part's ETag (quoted or not). */
  etag: string;
  size: number;
  /** The part checksum (base64), when the upload uses one. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

function requestedChecksum(part: CompletedPart, algorithm: ChecksumAlgorithm): string | undefined {
  switch (algorithm) {
    case 'CRC32':
      return part.checksumCRC32;
    case 'CRC32C':
      return part.checksumCRC32C;
    case 'CRC64NVME':
      return part.checksumCRC64NVME;
    case 'SHA1':
      return part.checksumSHA1;
    case 'SHA256':
      return part.checksumSHA256;
  }
}

/** Options for resolveCompletedParts. */
export interface ResolvePartsOptions {
  /** Minimum size of every part but the last (default MIN_PART_BYTES). */
  minPartBytes?: number;
}

/**
 * Match a CompleteMultipartUpload part list (already ordered by parseCompleteMultipartUpload)
 * against the uploaded parts. Throws InvalidPart (missing part, ETag or checksum mismatch) or
 * EntityTooSmall (a non-last part under the minimum).
 */
export function resolveCompletedParts(
  requested: readonly CompletedPart[],
  uploaded: ReadonlyMap<number, UploadedPart>,
  options: ResolvePartsOptions = {},
): UploadedPart[] {
  const minPart = options.minPartBytes ?? MIN_PART_BYTES;
  const out: UploadedPart[] = [];
  requested.forEach((req, i) => {
    const part = uploaded.get(req.partNumber);
    const extra = { PartNumber: String(req.partNumber), ETag: req.etag };
    if (!part || normalizeEtag(part.etag) !== normalizeEtag(req.etag)) {
      throw new S3Error('InvalidPart', undefined, { extra });
    }
    if (part.checksum) {
      const given = requestedChecksum(req, part.checksum.algorithm);
      if (given !== undefined && given !== part.checksum.value) {
        throw new S3Error(
          'InvalidPart',
          `The ${part.checksum.algorithm} checksum you specified for part ${req.partNumber} does not match the uploaded part.`,
          {
            extra,
          },
        );
      }
    }
    if (i < requested.length - 1 && part.size < minPart) {
      throw new S3Error('EntityTooSmall', undefined, {
        extra: { ...extra, ProposedSize: String(part.size), MinSizeAllowed: String(minPart) },
      });
    }
    out.push(part);
  });
  return out;
}
