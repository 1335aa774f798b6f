import { describe, expect, it } from 'vitest';
import type { S3Error } from './errors.ts';
import { parseRange } from './range.ts';

function err(header: string, size: number): S3Error {
  try {
    parseRange(header, size);
  } catch (e) {
    return e as S3Error;
  }
  throw new Error('expected InvalidRange');
}

describe('parseRange', () => {
  it('applies single, open-ended and suffix ranges, clamping the end', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({
      kind: 'partial',
      start: 0,
      end: 9,
      length: 10,
      contentRange: 'bytes 0-9/100',
    });
    expect(parseRange('bytes=90-', 100)).toMatchObject({ start: 90, end: 99, length: 10 });
    expect(parseRange('bytes=-10', 100)).toMatchObject({ start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toMatchObject({ start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toMatchObject({
      start: 50,
      end: 99,
      contentRange: 'bytes 50-99/100',
    });
    expect(parseRange('bytes=99-99', 100)).toMatchObject({ start: 99, end: 99, length: 1 });
  });

  it('compares the unit case-insensitively and tolerates whitespace around = and -', () => {
    expect(parseRange('Bytes=0-9', 100)).toMatchObject({ start: 0, end: 9 });
    expect(parseRange(' bytes = 5 - 6 ', 100)).toMatchObject({ start: 5, end: 6 });
    // Whitespace inside a number is not a number.
    expect(parseRange('bytes=1 0-20', 100)).toEqual({ kind: 'full' });
  });

  it('ignores absent, unparsable and multi-range headers (full 200)', () => {
    for (const h of [
      undefined,
      'bytes=',
      'bytes=-',
      'bits=0-1',
      'bytes=a-b',
      'bytes=0-1,3-4',
      'bytes=5-3',
      'garbage',
    ]) {
      expect(parseRange(h, 100), String(h)).toEqual({ kind: 'full' });
    }
  });

  it('answers 416 InvalidRange with Content-Range bytes */size when unsatisfiable', () => {
    const e = err('bytes=100-', 100);
    expect(e.code).toBe('InvalidRange');
    expect(e.status).toBe(416);
    expect(e.headers).toEqual({ 'content-range': 'bytes */100' });
    expect(err('bytes=40-50', 4).code).toBe('InvalidRange');
    expect(err('bytes=0-0', 0).headers).toEqual({ 'content-range': 'bytes */0' });
    expect(err('bytes=-5', 0).code).toBe('InvalidRange');
    expect(err('bytes=-0', 10).code).toBe('InvalidRange');
  });
});
