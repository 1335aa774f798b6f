import { describe, expect, it } from 'vitest';
import {
  MIN_PART_BYTES,
  parseMaxCount,
  parsePartNumber,
  resolveCompletedParts,
  type UploadedPart,
} from './multipart.ts';
import { s3ErrorCode } from './testing/error-code.ts';

describe('multipart parameters', () => {
  it('parses part numbers 1..10000', () => {
    expect(parsePartNumber('1')).toBe(1);
    expect(parsePartNumber('10000')).toBe(10000);
    for (const bad of [undefined, '', '0', '10001', '-1', '1.5', 'x', '00000000001']) {
      expect(
        s3ErrorCode(() => parsePartNumber(bad)),
        String(bad),
      ).toBe('InvalidArgument');
    }
  });

  it('parses page sizes with a cap', () => {
    expect(parseMaxCount(undefined, 'max-parts')).toBe(1000);
    expect(parseMaxCount('0', 'max-parts')).toBe(0);
    expect(parseMaxCount('99999', 'max-uploads')).toBe(1000);
    expect(s3ErrorCode(() => parseMaxCount('-3', 'max-parts'))).toBe('InvalidArgument');
  });
});

describe('resolveCompletedParts', () => {
  const big = MIN_PART_BYTES;
  const uploaded = new Map<number, UploadedPart>([
    [1, { partNumber: 1, etag: '"e1"', size: big, checksum: { algorithm: 'CRC32', value: 'AAAAAA==' } }],
    [2, { partNumber: 2, etag: 'e2', size: big }],
    [3, { partNumber: 3, etag: '"e3"', size: 10 }],
  ]);

  it('returns the named parts in order', () => {
    const parts = resolveCompletedParts(
      [
        { partNumber: 1, etag: 'e1', checksumCRC32: 'AAAAAA==' },
        { partNumber: 3, etag: 'e3' },
      ],
      uploaded,
    );
    expect(parts.map((p) => p.partNumber)).toEqual([1, 3]);
  });

  it('rejects missing parts, wrong ETags and checksums, small non-last parts', () => {
    expect(s3ErrorCode(() => resolveCompletedParts([{ partNumber: 4, etag: 'e4' }], uploaded))).toBe(
      'InvalidPart',
    );
    expect(s3ErrorCode(() => resolveCompletedParts([{ partNumber: 2, etag: 'zz' }], uploaded))).toBe(
      'InvalidPart',
    );
    expect(
      s3ErrorCode(() =>
        resolveCompletedParts([{ partNumber: 1, etag: 'e1', checksumCRC32: 'BBBBBB==' }], uploaded),
      ),
    ).toBe('InvalidPart');
    expect(
      s3ErrorCode(() =>
        resolveCompletedParts(
          [
            { partNumber: 3, etag: 'e3' },
            { partNumber: 4, etag: 'x' },
          ],
          new Map([...uploaded, [4, { partNumber: 4, etag: 'x', size: 1 }]]),
        ),
      ),
    ).toBe('EntityTooSmall');
    expect(
      s3ErrorCode(() =>
        resolveCompletedParts(
          [
            { partNumber: 3, etag: 'e3' },
            { partNumber: 4, etag: 'x' },
          ],
          new Map([...uploaded, [4, { partNumber: 4, etag: 'x', size: 1 }]]),
          { minPartBytes: 5 },
        ),
      ),
    ).toBe('ok');
  });
});
