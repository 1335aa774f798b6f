import { describe, expect, it } from 'vitest';
import {
  type DataPart,
  decodeHead,
  decodeListedHead,
  decodePartList,
  encodeHead,
  encodePartList,
  type ObjectHead,
  objectHeadSchema,
} from './object-head.ts';

const base: ObjectHead = {
  versionId: 'v1',
  size: 3,
  etag: 'abc',
  lastModifiedMs: 1_700_000_000_000,
  contentType: 'text/plain',
  cacheControl: 'no-cache',
  meta: { colour: 'blue' },
  checksums: { CRC64NVME: 'AAAAAAAAAAA=' },
  checksumType: 'FULL_OBJECT',
  parts: [{ id: 'd1', bytes: 3 }],
};

describe('object heads', () => {
  it('decode what they encode, inline bytes included, exactly as the zod schema would', () => {
    expect(decodeHead(encodeHead(base))).toEqual(objectHeadSchema.parse(base));
    const inline: ObjectHead = { ...base, parts: [], inline: Buffer.from('xyz') };
    const back = decodeHead(encodeHead(inline));
    expect(back.inline?.toString()).toBe('xyz');
    expect(back.parts).toEqual([]);
    const multipart: ObjectHead = { ...base, partCount: 2, partsRef: true, ext: { p: [1, 2] } };
    delete multipart.parts;
    expect(decodeHead(encodeHead(multipart))).toEqual(objectHeadSchema.parse(multipart));
  });

  it('anything the hand check does not vouch for gets zod: unknown fields stripped, bad ones refused', () => {
    const extra = Buffer.from(JSON.stringify({ ...base, legacy: 1 }));
    expect(decodeHead(extra)).toEqual(objectHeadSchema.parse(base));
    for (const bad of [
      { ...base, size: -1 },
      { ...base, etag: '' },
      { ...base, checksums: { MD5: 'x' } },
      { ...base, parts: [{ id: 'd1', bytes: 1.5 }] },
      { ...base, parts: [{ id: 'd1', bytes: 1, checksum: 7 }] },
      { ...base, parts: [{ id: 'd1', bytes: 1, checksum: '' }] },
      { ...base, partCount: 0 },
      { ...base, meta: { a: 1 } },
    ]) {
      expect(() => decodeHead(Buffer.from(JSON.stringify(bad))), JSON.stringify(bad)).toThrow();
    }
  });

  it('listing decodes only its fields, skips inline bytes, and still refuses a corrupt head', () => {
    const inline: ObjectHead = { ...base, parts: [], inline: Buffer.from('x\ny') };
    expect(decodeListedHead(encodeHead({ ...inline, size: 3 }))).toMatchObject({
      size: 3,
      etag: 'abc',
      lastModifiedMs: base.lastModifiedMs,
      checksums: base.checksums,
      checksumType: 'FULL_OBJECT',
    });
    // A head in another field order (or with unusual values) takes the full decode, same answer.
    const composite = { ...base, checksums: { CRC32: 'AAAAAA==-3' }, checksumType: 'COMPOSITE' as const };
    const { size, etag, lastModifiedMs, checksums, checksumType } = composite;
    expect(decodeListedHead(Buffer.from(JSON.stringify(composite)))).toMatchObject({
      size,
      etag,
      lastModifiedMs,
      checksums,
      checksumType,
    });
    expect(decodeListedHead(encodeHead(composite))).toEqual({
      size,
      etag,
      lastModifiedMs,
      checksums,
      checksumType,
    });
    const quoted = { ...base, etag: 'a"b' };
    expect(decodeListedHead(encodeHead(quoted)).etag).toBe('a"b');
    // A storage class other than STANDARD is read from right after `checksums`, in both paths.
    const infrequent = { ...base, storageClass: 'STANDARD_IA', meta: { a: '}' } };
    expect(decodeListedHead(encodeHead(infrequent)).storageClass).toBe('STANDARD_IA');
    expect(decodeListedHead(Buffer.from(JSON.stringify(infrequent))).storageClass).toBe('STANDARD_IA');
    expect(decodeListedHead(encodeHead(base)).storageClass).toBeUndefined();
    for (const bad of [
      { ...base, size: -1 },
      { ...base, etag: '' },
      { ...base, checksums: { MD5: 'x' } },
      { ...base, checksumType: 'X' },
      { ...base, lastModifiedMs: 'yesterday' },
    ]) {
      expect(() => decodeListedHead(Buffer.from(JSON.stringify(bad))), JSON.stringify(bad)).toThrow();
      expect(() => decodeListedHead(encodeHead(bad as ObjectHead)), JSON.stringify(bad)).toThrow();
    }
  });

  it('part checksums: kept through the head and the part list; heads and lists without them still decode', () => {
    const parts: DataPart[] = [
      { id: 'd1', bytes: 5, checksum: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' },
      { id: 'd2', bytes: 3, checksum: 'AAAAAA==' },
    ];
    const composite: ObjectHead = {
      ...base,
      size: 8,
      checksums: { SHA256: 'x-2' },
      checksumType: 'COMPOSITE',
      partCount: 2,
      parts,
    };
    // The hand check and zod agree (zod would strip an unknown field: it must know `checksum`).
    expect(decodeHead(encodeHead(composite))).toEqual(composite);
    expect(objectHeadSchema.parse(composite)).toEqual(composite);
    expect(decodePartList(encodePartList(parts))).toEqual(parts);
    // Written before part checksums existed: same record bytes as then, decoded with none.
    const old = Buffer.from(
      JSON.stringify({ ...composite, parts: parts.map(({ id, bytes }) => ({ id, bytes })) }),
    );
    expect(decodeHead(old).parts).toEqual([
      { id: 'd1', bytes: 5 },
      { id: 'd2', bytes: 3 },
    ]);
    expect(decodePartList(Buffer.from('[{"id":"d1","bytes":5}]'))).toEqual([{ id: 'd1', bytes: 5 }]);
  });

  it('the worst part list (10,000 parts of 5 GiB with SHA256 checksums) stays near 1.2 MB', () => {
    const parts: DataPart[] = Array.from({ length: 10_000 }, (_, i) => ({
      id: i.toString(16).padStart(32, '0'),
      bytes: 5 * 1024 ** 3,
      checksum: Buffer.alloc(32, i).toString('base64'),
    }));
    const encoded = encodePartList(parts);
    expect(encoded.length).toBeLessThanOrEqual(1_190_001);
    expect(decodePartList(encoded)).toEqual(parts);
  });
});
