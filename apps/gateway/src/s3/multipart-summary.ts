// What a completed multipart object is, derived from its parts without reading their data: the
// size, the `"<md5 of the part MD5s>-N"` ETag, and the whole-object checksum.
// Invariants:
// - Every part but the last is at least MIN_PART_BYTES (EntityTooSmall otherwise), as S3 requires.
// - A checksum a client repeats in CompleteMultipartUpload must equal the stored one (InvalidPart).
// - Checksum of the object: with an algorithm declared at CreateMultipartUpload, COMPOSITE is
//   `<b64 of the checksum over the raw part checksums>-N` and FULL_OBJECT (CRCs only) is the CRC of
//   the whole byte stream, combined from the part CRCs and lengths; without one, a FULL_OBJECT
//   CRC64NVME, as S3 stores for every object since 2025.

import { createHash } from 'node:crypto';
import {
  type ChecksumAlgorithm,
  type CompletedPart,
  checksumXmlName,
  combineCrcs,
  compositeChecksum,
  isCombinable,
  S3Error,
  toBase64,
} from '@blobcache/s3-protocol';
import type { UploadRecord } from '../store/multipart-records.ts';
import type { StoredPart } from '../store/multipart-store.ts';

export const MIN_PART_BYTES = 5 * 1024 * 1024;

export type MultipartSummary = {
  size: number;
  /** Unquoted `<hex>-N`. */
  etag: string;
  algorithm: ChecksumAlgorithm;
  checksum: string;
  checksumType: 'FULL_OBJECT' | 'COMPOSITE';
};

/** The checksum type S3 uses for an upload: as declared, else FULL_OBJECT for CRC64NVME, COMPOSITE otherwise. */
export function effectiveChecksumType(
  algorithm: ChecksumAlgorithm,
  declared: 'FULL_OBJECT' | 'COMPOSITE' | undefined,
): 'FULL_OBJECT' | 'COMPOSITE' {
  return declared ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
}

/**
 * The algorithm whose per-part value a completed object keeps for `?partNumber` reads, as S3
 * answers them: a COMPOSITE object returns the part's own checksum; a FULL_OBJECT one returns it
 * only when it has one part (then it equals the object's), since with more parts S3 sends none
 * (the object's value would not match the part's bytes). An upload that declared no algorithm
 * (its CRC64NVME is the store's default) keeps none: its parts answer without a checksum.
 * The cases as LocalStack's tests, validated against S3, record them (localstack/localstack#12842).
 */
export function partChecksumAlgorithm(
  upload: UploadRecord,
  partCount: number,
): ChecksumAlgorithm | undefined {
  const algorithm = upload.checksumAlgorithm;
  if (algorithm === undefined) return undefined;
  const type = effectiveChecksumType(algorithm, upload.checksumType);
  return type === 'COMPOSITE' || partCount === 1 ? algorithm : undefined;
}

function checksumsInRequest(part: CompletedPart): Array<[ChecksumAlgorithm, string]> {
  const out: Array<[ChecksumAlgorithm, string]> = [];
  if (part.checksumCRC32 !== undefined) out.push(['CRC32', part.checksumCRC32]);
  if (part.checksumCRC32C !== undefined) out.push(['CRC32C', part.checksumCRC32C]);
  if (part.checksumCRC64NVME !== undefined) out.push(['CRC64NVME', part.checksumCRC64NVME]);
  if (part.checksumSHA1 !== undefined) out.push(['SHA1', part.checksumSHA1]);
  if (part.checksumSHA256 !== undefined) out.push(['SHA256', part.checksumSHA256]);
  return out;
}

export function summarizeParts(
  upload: UploadRecord,
  requested: readonly CompletedPart[],
  parts: readonly StoredPart[],
): MultipartSummary {
  if (parts.length !== requested.length) throw new Error('every requested part was matched');
  const etagHash = createHash('md5');
  let size = 0;
  parts.forEach((part, i) => {
    const rec = part.record;
    if (i < parts.length - 1 && rec.bytes < MIN_PART_BYTES) {
      throw new S3Error('EntityTooSmall', undefined, {
        extra: {
          ProposedSize: String(rec.bytes),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(part.partNumber),
          ETag: `"${rec.etag}"`,
        },
      });
    }
    for (const [algorithm, value] of checksumsInRequest(requested[i] as CompletedPart)) {
      const stored = rec.checksums[algorithm];
      // A checksum we never computed for this part cannot be checked; S3 clients send only the
      // algorithm they uploaded with, which is always stored.
      if (stored !== undefined && stored !== value) {
        throw new S3Error(
          'InvalidPart',
          `The ${checksumXmlName(algorithm)} of part ${part.partNumber} does not match`,
          {
            extra: { PartNumber: String(part.partNumber) },
          },
        );
      }
    }
    etagHash.update(Buffer.from(rec.etag, 'hex'));
    size += rec.bytes;
  });
  const algorithm = upload.checksumAlgorithm ?? 'CRC64NVME';
  const checksumType = upload.checksumAlgorithm
    ? effectiveChecksumType(algorithm, upload.checksumType)
    : 'FULL_OBJECT';
  const digests = parts.map((p) => {
    const b64 = p.record.checksums[algorithm];
    if (b64 === undefined) throw new Error(`part ${p.partNumber} has no stored ${algorithm}`);
    return Buffer.from(b64, 'base64');
  });
  let checksum: string;
  if (checksumType === 'COMPOSITE') {
    checksum = compositeChecksum(algorithm, digests);
  } else {
    if (!isCombinable(algorithm)) throw new Error(`FULL_OBJECT needs a CRC, not ${algorithm}`);
    checksum = toBase64(
      combineCrcs(
        algorithm,
        parts.map((p, i) => ({ digest: digests[i] as Buffer, length: p.record.bytes })),
      ),
    );
  }
  return { size, etag: `${etagHash.digest('hex')}-${parts.length}`, algorithm, checksum, checksumType };
}
