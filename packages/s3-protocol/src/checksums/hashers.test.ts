import { randomBytes } from 'node:crypto';
import { Crc32, Crc32c, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { describe, expect, it } from 'vitest';
import { s3ErrorCode } from '../testing/error-code.ts';
import { crc32c } from './crc32c.ts';
import {
  CHECKSUM_ALGORITHMS,
  compositeChecksum,
  createHasher,
  digestLength,
  type HashAlgorithm,
  hashBytes,
  toBase64,
} from './hashers.ts';
import {
  checksumHeaderName,
  parseChecksumAlgorithm,
  parseChecksumHeaders,
  parseChecksumType,
} from './headers.ts';

const CHECK = Buffer.from('123456789');

describe('known vectors', () => {
  it('matches the published check values for "123456789"', () => {
    expect(hashBytes('CRC32', CHECK).toString('hex')).toBe('cbf43926');
    expect(hashBytes('CRC32C', CHECK).toString('hex')).toBe('e3069283');
    expect(hashBytes('CRC64NVME', CHECK).toString('hex')).toBe('ae8b14860a799888');
    expect(hashBytes('SHA1', Buffer.from('abc')).toString('hex')).toBe(
      'a9993e364706816aba3e25717850c26c9cd0d89d',
    );
    expect(hashBytes('SHA256', Buffer.from('abc')).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashBytes('MD5', Buffer.from('')).toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(crc32c(CHECK)).toBe(0xe3069283);
  });

  it('gives the empty-body values S3 clients send', () => {
    expect(toBase64(hashBytes('CRC32', Buffer.alloc(0)))).toBe('AAAAAA==');
    expect(toBase64(hashBytes('CRC32C', Buffer.alloc(0)))).toBe('AAAAAA==');
    expect(toBase64(hashBytes('CRC64NVME', Buffer.alloc(0)))).toBe('AAAAAAAAAAA=');
    // Captured from @aws-sdk/client-s3 PutObject of the body "x".
    expect(toBase64(hashBytes('CRC32', Buffer.from('x')))).toBe('jNwWgw==');
  });

  it('digests have the declared lengths', () => {
    for (const a of [...CHECKSUM_ALGORITHMS, 'MD5'] as HashAlgorithm[]) {
      expect(hashBytes(a, CHECK).length).toBe(digestLength(a));
    }
  });
});

describe('against the AWS SDK implementations on random data', () => {
  async function sdkDigest(
    ctor: new () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> },
    data: Uint8Array,
  ): Promise<string> {
    const h = new ctor();
    h.update(data);
    return Buffer.from(await h.digest()).toString('hex');
  }

  it('agrees for CRC32, CRC32C and CRC64NVME over many sizes', async () => {
    for (const size of [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096, 65_537, 1_000_003]) {
      const data = randomBytes(size);
      expect(hashBytes('CRC32', data).toString('hex'), `crc32 ${size}`).toBe(await sdkDigest(Crc32, data));
      expect(hashBytes('CRC32C', data).toString('hex'), `crc32c ${size}`).toBe(await sdkDigest(Crc32c, data));
      expect(hashBytes('CRC64NVME', data).toString('hex'), `crc64 ${size}`).toBe(
        await sdkDigest(Crc64NvmeJs, data),
      );
    }
  });

  it('agrees for views at every byte offset (the word-load path aligns itself)', async () => {
    const backing = randomBytes(70_000);
    for (let offset = 0; offset < 8; offset++) {
      for (const size of [71, 72, 73, 80, 81, 4099, 65_536]) {
        const view = backing.subarray(offset, offset + size);
        const copy = Uint8Array.from(view);
        expect(hashBytes('CRC32C', view).toString('hex'), `crc32c @${offset}+${size}`).toBe(
          await sdkDigest(Crc32c, copy),
        );
        expect(hashBytes('CRC64NVME', view).toString('hex'), `crc64 @${offset}+${size}`).toBe(
          await sdkDigest(Crc64NvmeJs, copy),
        );
      }
    }
  });

  it('is independent of how the input is split', () => {
    const data = randomBytes(100_000);
    for (const a of [...CHECKSUM_ALGORITHMS, 'MD5'] as HashAlgorithm[]) {
      const whole = hashBytes(a, data).toString('hex');
      const h = createHasher(a);
      let pos = 0;
      let step = 1;
      while (pos < data.length) {
        const end = Math.min(data.length, pos + step);
        h.update(data.subarray(pos, end));
        pos = end;
        step = (step * 7 + 3) % 9001;
      }
      expect(h.digest().toString('hex'), a).toBe(whole);
    }
  });
});

describe('composite checksums', () => {
  it('hashes the concatenated part digests and appends the part count', () => {
    const p1 = hashBytes('CRC32', Buffer.from('part one'));
    const p2 = hashBytes('CRC32', Buffer.from('part two'));
    const expected = toBase64(hashBytes('CRC32', Buffer.concat([p1, p2])));
    expect(compositeChecksum('CRC32', [p1, p2])).toBe(`${expected}-2`);
  });
});

describe('checksum headers', () => {
  it('reads a header value or a trailer announcement', () => {
    expect(parseChecksumHeaders({})).toBeUndefined();
    expect(
      parseChecksumHeaders({ 'x-amz-checksum-crc32': 'jNwWgw==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }),
    ).toEqual({ algorithm: 'CRC32', value: 'jNwWgw==', source: 'header' });
    expect(parseChecksumHeaders({ 'x-amz-trailer': 'x-amz-checksum-crc64nvme' })).toEqual({
      algorithm: 'CRC64NVME',
      source: 'trailer',
    });
    expect(
      parseChecksumHeaders({ 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-checksum-mode': 'ENABLED' }),
    ).toBeUndefined();
    expect(checksumHeaderName('CRC64NVME')).toBe('x-amz-checksum-crc64nvme');
    expect(parseChecksumAlgorithm('crc32c')).toBe('CRC32C');
    expect(parseChecksumAlgorithm('md5')).toBeUndefined();
    expect(parseChecksumType('composite')).toBe('COMPOSITE');
  });

  it('rejects inconsistent or malformed declarations with InvalidRequest', () => {
    expect(s3ErrorCode(() => parseChecksumHeaders({ 'x-amz-checksum-crc32': 'nope' }))).toBe(
      'InvalidRequest',
    );
    expect(s3ErrorCode(() => parseChecksumHeaders({ 'x-amz-checksum-crc32': 'AAAAAAAAAAA=' }))).toBe(
      'InvalidRequest',
    );
    expect(
      s3ErrorCode(() =>
        parseChecksumHeaders({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-crc32c': 'AAAAAA==' }),
      ),
    ).toBe('InvalidRequest');
    expect(
      s3ErrorCode(() =>
        parseChecksumHeaders({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-trailer': 'x-amz-checksum-crc32' }),
      ),
    ).toBe('InvalidRequest');
    expect(s3ErrorCode(() => parseChecksumHeaders({ 'x-amz-trailer': 'x-amz-checksum-md5' }))).toBe(
      'InvalidRequest',
    );
    expect(s3ErrorCode(() => parseChecksumHeaders({ 'x-amz-sdk-checksum-algorithm': 'CRC32' }))).toBe(
      'InvalidRequest',
    );
    expect(
      s3ErrorCode(() =>
        parseChecksumHeaders({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'SHA1' }),
      ),
    ).toBe('InvalidRequest');
    expect(s3ErrorCode(() => parseChecksumType('BOTH'))).toBe('InvalidRequest');
  });
});
