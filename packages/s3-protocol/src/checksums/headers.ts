// Reading the checksum a client declares for a body. Invariant: at most one algorithm is
// declared per request (a header value or a trailer, never both), its value (when present) has
// the exact digest length of that algorithm, and any inconsistency is InvalidRequest as S3 answers.

import { S3Error } from '../errors.ts';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, digestLength } from './hashers.ts';

/** `x-amz-checksum-crc32` etc. for an algorithm. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** `ChecksumCRC32` etc.: the XML element name for an algorithm. */
export function checksumXmlName(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

/** Parse an algorithm name case-insensitively (`crc32`, `CRC64NVME`, ...); undefined if unknown. */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm | undefined {
  const upper = value.trim().toUpperCase();
  return CHECKSUM_ALGORITHMS.find((a) => a === upper);
}

/** The checksum type of a multipart upload. */
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** What a request declares about its body checksum. */
export interface DeclaredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 value from the header; undefined when it will arrive in a trailer. */
  value?: string;
  /** Where the value comes from. */
  source: 'header' | 'trailer';
}

const HEADER_TO_ALGORITHM = new Map<string, ChecksumAlgorithm>(
  CHECKSUM_ALGORITHMS.map((a) => [checksumHeaderName(a), a]),
);

/** True when `value` is canonical base64 of exactly `length` bytes. */
export function isBase64OfLength(value: string, length: number): boolean {
  if (value.length !== Math.ceil(length / 3) * 4) return false;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return false;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === length && bytes.toString('base64') === value;
}

function invalid(message: string): S3Error {
  return new S3Error('InvalidRequest', message);
}

/** Validate a checksum value for `algorithm` (throws InvalidRequest naming the header). */
export function assertChecksumValue(algorithm: ChecksumAlgorithm, value: string): void {
  if (!isBase64OfLength(value, digestLength(algorithm))) {
    throw invalid(`Value for ${checksumHeaderName(algorithm)} header is invalid.`);
  }
}

/**
 * The checksum declared by `x-amz-checksum-<alg>` headers or announced in `x-amz-trailer`,
 * cross-checked with `x-amz-sdk-checksum-algorithm`. Undefined when the request declares none.
 */
export function parseChecksumHeaders(
  headers: Readonly<Record<string, string | undefined>>,
): DeclaredChecksum | undefined {
  const found: DeclaredChecksum[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !name.startsWith('x-amz-checksum-')) continue;
    const algorithm = HEADER_TO_ALGORITHM.get(name);
    if (algorithm === undefined) continue; // x-amz-checksum-type, -mode, -algorithm are not values
    const v = value.trim();
    assertChecksumValue(algorithm, v);
    found.push({ algorithm, value: v, source: 'header' });
  }
  const trailer = headers['x-amz-trailer'];
  if (trailer !== undefined) {
    for (const raw of trailer.split(',')) {
      const name = raw.trim().toLowerCase();
      if (name === '') continue;
      const algorithm = HEADER_TO_ALGORITHM.get(name);
      if (algorithm === undefined) {
        throw invalid(`The value specified in the x-amz-trailer header is not supported: ${name}`);
      }
      found.push({ algorithm, source: 'trailer' });
    }
  }
  if (found.length > 1)
    throw invalid('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const declared = found[0];
  const sdk = headers['x-amz-sdk-checksum-algorithm'];
  if (sdk !== undefined) {
    const algorithm = parseChecksumAlgorithm(sdk);
    if (algorithm === undefined) throw invalid('Value for x-amz-sdk-checksum-algorithm header is invalid.');
    if (declared === undefined) {
      throw invalid(
        'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.',
      );
    }
    if (declared.algorithm !== algorithm)
      throw invalid('Value for x-amz-sdk-checksum-algorithm header is invalid.');
  }
  return declared;
}

/** Parse `x-amz-checksum-type` (FULL_OBJECT | COMPOSITE); undefined when absent. */
export function parseChecksumType(value: string | undefined): ChecksumType | undefined {
  if (value === undefined) return undefined;
  const upper = value.trim().toUpperCase();
  if (upper === 'FULL_OBJECT' || upper === 'COMPOSITE') return upper;
  throw invalid('Value for x-amz-checksum-type header is invalid.');
}
