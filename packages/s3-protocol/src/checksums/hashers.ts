// One incremental interface over every checksum S3 speaks (and MD5 for ETags/Content-MD5).
// Invariant: digest() returns the raw big-endian bytes that S3 base64-encodes into
// x-amz-checksum-* / Content-MD5; it may be called once, after the last update().

import { createHash, type Hash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32cUpdate } from './crc32c.ts';
import { crc64nvmeDigest, crc64nvmeInit, crc64nvmeUpdate } from './crc64nvme.ts';

/** The flexible-checksum algorithms S3 supports. */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

/** Every algorithm createHasher knows: the S3 checksums plus MD5. */
export type HashAlgorithm = ChecksumAlgorithm | 'MD5';

/** All S3 flexible-checksum algorithms, in a stable order. */
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
];

/** An incremental hash: feed bytes with update(), read the raw digest once with digest(). */
export interface Hasher {
  readonly algorithm: HashAlgorithm;
  update(data: Uint8Array): void;
  digest(): Buffer;
}

function u32be(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

class Crc32Hasher implements Hasher {
  readonly algorithm = 'CRC32' as const;
  private value = 0;
  update(data: Uint8Array): void {
    // zlib.crc32 continues from a previous result passed as its second argument.
    this.value = zlibCrc32(data, this.value);
  }
  digest(): Buffer {
    return u32be(this.value);
  }
}

class Crc32cHasher implements Hasher {
  readonly algorithm = 'CRC32C' as const;
  private state = -1;
  update(data: Uint8Array): void {
    this.state = crc32cUpdate(this.state, data);
  }
  digest(): Buffer {
    return u32be(~this.state);
  }
}

class Crc64NvmeHasher implements Hasher {
  readonly algorithm = 'CRC64NVME' as const;
  private readonly state = crc64nvmeInit();
  update(data: Uint8Array): void {
    crc64nvmeUpdate(this.state, data);
  }
  digest(): Buffer {
    return crc64nvmeDigest(this.state);
  }
}

class NodeHasher implements Hasher {
  readonly algorithm: HashAlgorithm;
  private readonly hash: Hash;
  constructor(algorithm: 'SHA1' | 'SHA256' | 'MD5') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm === 'SHA1' ? 'sha1' : algorithm === 'SHA256' ? 'sha256' : 'md5');
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

/** A new incremental hasher for `algorithm`. */
export function createHasher(algorithm: HashAlgorithm): Hasher {
  switch (algorithm) {
    case 'CRC32':
      return new Crc32Hasher();
    case 'CRC32C':
      return new Crc32cHasher();
    case 'CRC64NVME':
      return new Crc64NvmeHasher();
    case 'SHA1':
    case 'SHA256':
    case 'MD5':
      return new NodeHasher(algorithm);
  }
}

/** One-shot digest of `data`. */
export function hashBytes(algorithm: HashAlgorithm, data: Uint8Array): Buffer {
  const h = createHasher(algorithm);
  h.update(data);
  return h.digest();
}

/** Raw digest length in bytes for an algorithm. */
export function digestLength(algorithm: HashAlgorithm): number {
  switch (algorithm) {
    case 'CRC32':
    case 'CRC32C':
      return 4;
    case 'CRC64NVME':
      return 8;
    case 'SHA1':
      return 20;
    case 'SHA256':
      return 32;
    case 'MD5':
      return 16;
  }
}

/** Base64 of a raw digest, as S3 writes checksum headers. */
export function toBase64(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64');
}

/**
 * Composite (multipart) checksum as S3 reports it: base64 of the checksum over the concatenated
 * raw part checksums, followed by `-<part count>`.
 */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: readonly Uint8Array[]): string {
  const h = createHasher(algorithm);
  for (const d of partDigests) h.update(d);
  return `${toBase64(h.digest())}-${partDigests.length}`;
}
