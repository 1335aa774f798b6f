// The `Range` header as S3 applies it to GET/HEAD. Invariant: the result is either the whole
// object, one satisfiable inclusive byte range within [0, size), or an InvalidRange (416) error
// carrying `Content-Range: bytes */<size>`. S3 serves a single range only: multi-range and
// unparsable headers are ignored (full 200), exactly as S3 does. The unit is case-insensitive
// (RFC 9110 §14.1) and whitespace is tolerated around `=` and `-`, never inside a number.

import { S3Error } from './errors.ts';

/** Outcome of applying a Range header to an object of known size. */
export type RangeResult =
  | { kind: 'full' }
  | {
      kind: 'partial';
      /** First byte, inclusive. */
      start: number;
      /** Last byte, inclusive. */
      end: number;
      length: number;
      /** `bytes <start>-<end>/<size>` */
      contentRange: string;
    };

const SINGLE = /^bytes\s*=\s*(\d*)\s*-\s*(\d*)$/i;

function unsatisfiable(header: string, size: number): S3Error {
  return new S3Error('InvalidRange', undefined, {
    extra: { RangeRequested: header, ActualObjectSize: String(size) },
    headers: { 'content-range': `bytes */${size}` },
  });
}

/** Apply `Range` to an object of `size` bytes; throws S3Error(InvalidRange) when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const h = header.trim();
  const m = SINGLE.exec(h);
  if (!m) return { kind: 'full' };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  let start: number;
  let end: number;
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return { kind: 'full' };
    if (n === 0 || size === 0) throw unsatisfiable(h, size);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Number(last);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'full' };
    if (last !== '' && end < start) return { kind: 'full' };
    if (start >= size) throw unsatisfiable(h, size);
    end = Math.min(end, size - 1);
  }
  return {
    kind: 'partial',
    start,
    end,
    length: end - start + 1,
    contentRange: `bytes ${start}-${end}/${size}`,
  };
}
