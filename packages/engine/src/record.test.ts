import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  encodeRecord,
  payloadCrcOk,
  RECORD_HEADER_BYTES,
  readU64,
  recordBytes,
  writeU64,
} from './record.ts';

describe('record codec', () => {
  it('round-trips header, key and value', () => {
    const key = Buffer.from('bucket/key');
    const value = Buffer.from('hello world');
    const buf = Buffer.alloc(recordBytes(key.length, value.length) + 10);
    const n = encodeRecord(buf, 5, 123456789012, key, value);
    expect(n).toBe(RECORD_HEADER_BYTES + key.length + value.length);
    const h = decodeHeader(buf, 5, 1 << 20);
    expect(h).toMatchObject({
      seq: 123456789012,
      keyLen: key.length,
      valueLen: value.length,
      tombstone: false,
    });
    expect(buf.subarray(5 + RECORD_HEADER_BYTES, 5 + RECORD_HEADER_BYTES + key.length).equals(key)).toBe(
      true,
    );
  });

  it('hazard 5.2-8: the payload CRC is CRC32 of the stored value only', () => {
    const key = Buffer.from('k');
    const value = Buffer.from('some value bytes');
    const buf = Buffer.alloc(recordBytes(1, value.length));
    encodeRecord(buf, 0, 1, key, value);
    const h = decodeHeader(buf, 0, 1024);
    expect(h?.payloadCrc).toBe(crc32(value) >>> 0);
    expect(payloadCrcOk(h!, value)).toBe(true);
    expect(payloadCrcOk(h!, Buffer.from('some value bytez'))).toBe(false);
  });

  it('encodes tombstones with no value', () => {
    const buf = Buffer.alloc(recordBytes(3, 0));
    encodeRecord(buf, 0, 7, Buffer.from('abc'), undefined);
    const h = decodeHeader(buf, 0, 1024);
    expect(h?.tombstone).toBe(true);
    expect(h?.valueLen).toBe(0);
  });

  it('hazard 5.1-5: rejects a header whose CRC fails before trusting any size', () => {
    const buf = Buffer.alloc(recordBytes(1, 4));
    encodeRecord(buf, 0, 1, Buffer.from('k'), Buffer.from('abcd'));
    // claim a huge physical size without fixing the CRC
    writeU64(buf, 26, 2 ** 40);
    expect(decodeHeader(buf, 0, 1 << 30)).toBeUndefined();
    // wrong magic
    const b2 = Buffer.alloc(recordBytes(1, 4));
    encodeRecord(b2, 0, 1, Buffer.from('k'), Buffer.from('abcd'));
    b2[0] = 0;
    expect(decodeHeader(b2, 0, 1024)).toBeUndefined();
    // truncated header
    expect(decodeHeader(b2.subarray(0, 20), 0, 1024)).toBeUndefined();
  });

  it('the header CRC covers the key: a flipped key byte is detected', () => {
    const buf = Buffer.alloc(recordBytes(5, 3));
    encodeRecord(buf, 0, 1, Buffer.from('hello'), Buffer.from('abc'));
    expect(decodeHeader(buf, 0, 1024)).toBeDefined();
    buf[RECORD_HEADER_BYTES + 2] = buf[RECORD_HEADER_BYTES + 2]! ^ 0x01;
    expect(decodeHeader(buf, 0, 1024)).toBeUndefined();
    // and a buffer cut inside the key cannot verify
    expect(decodeHeader(buf.subarray(0, RECORD_HEADER_BYTES + 2), 0, 1024)).toBeUndefined();
  });

  it('rejects sizes over maxValueBytes even with a valid CRC', () => {
    const value = Buffer.alloc(100);
    const buf = Buffer.alloc(recordBytes(1, 100));
    encodeRecord(buf, 0, 1, Buffer.from('k'), value);
    expect(decodeHeader(buf, 0, 99)).toBeUndefined();
    expect(decodeHeader(buf, 0, 100)).toBeDefined();
  });

  it('u64 helpers handle values above 2^32', () => {
    const b = Buffer.alloc(8);
    writeU64(b, 0, 2 ** 52 + 3);
    expect(readU64(b, 0)).toBe(2 ** 52 + 3);
    expect(() => writeU64(b, 0, -1)).toThrow();
  });
});
