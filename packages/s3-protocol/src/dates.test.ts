import { describe, expect, it } from 'vitest';
import {
  formatAmzDate,
  formatHttpDate,
  formatIsoDate,
  parseAmzDate,
  parseHttpDate,
  parseIsoDate,
} from './dates.ts';

const t = new Date(Date.UTC(2009, 9, 12, 17, 50, 30, 123));

describe('dates', () => {
  it('formats the three wire formats', () => {
    expect(formatHttpDate(t)).toBe('Mon, 12 Oct 2009 17:50:30 GMT');
    expect(formatIsoDate(t)).toBe('2009-10-12T17:50:30.123Z');
    expect(formatAmzDate(t)).toBe('20091012T175030Z');
  });

  it('parses amz basic dates strictly', () => {
    expect(parseAmzDate('20130524T000000Z')?.toISOString()).toBe('2013-05-24T00:00:00.000Z');
    for (const bad of [
      '20131324T000000Z',
      '20130524T250000Z',
      '2013-05-24T00:00:00Z',
      '20130524T000000',
      '',
    ]) {
      expect(parseAmzDate(bad), bad).toBeUndefined();
    }
  });

  it('parses HTTP dates in all three RFC forms', () => {
    const expected = '1994-11-06T08:49:37.000Z';
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')?.toISOString()).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')?.toISOString()).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')?.toISOString()).toBe(expected);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 +0000')?.toISOString()).toBe(expected);
    expect(parseHttpDate('yesterday')).toBeUndefined();
    expect(parseHttpDate('2009-10-12')).toBeUndefined();
  });

  it('parses ISO dates', () => {
    expect(parseIsoDate('2009-10-12T17:50:30.000Z')?.getTime()).toBe(Date.UTC(2009, 9, 12, 17, 50, 30));
    expect(parseIsoDate('2009-10-12T17:50:30Z')?.getTime()).toBe(Date.UTC(2009, 9, 12, 17, 50, 30));
    expect(parseIsoDate('nope')).toBeUndefined();
  });
});

describe('date memos', () => {
  it('a repeated x-amz-date parses to equal, independent Dates; a repeated instant formats the same', () => {
    const a = parseAmzDate('20130524T000000Z');
    a?.setUTCFullYear(1999);
    expect(parseAmzDate('20130524T000000Z')?.toISOString()).toBe('2013-05-24T00:00:00.000Z');
    expect(parseAmzDate('20131324T000000Z')).toBeUndefined();
    const t = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
    expect(formatHttpDate(t)).toBe('Thu, 02 Jan 2020 03:04:05 GMT');
    expect(formatHttpDate(new Date(t.getTime()))).toBe('Thu, 02 Jan 2020 03:04:05 GMT');
    expect(formatHttpDate(new Date(0))).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
  });

  it('formats right across more instants than the memo holds, in any order', () => {
    const base = Date.UTC(2024, 5, 1);
    const instants = Array.from({ length: 10_000 }, (_, i) => base + ((i * 7919) % 10_000) * 61_000);
    for (let round = 0; round < 2; round++)
      for (const ms of instants) expect(formatHttpDate(new Date(ms))).toBe(new Date(ms).toUTCString());
  });
});
