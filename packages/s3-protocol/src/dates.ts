// The three date formats on the S3 wire. Invariant: formatting is always UTC and parsing is
// strict enough that a malformed value yields undefined (never a silently wrong Date).

/** `Wed, 12 Oct 2009 17:50:00 GMT` (IMF-fixdate, for Last-Modified, Date, Expires headers). */
export function formatHttpDate(date: Date): string {
  // Memo by instant: a server formats the Last-Modified of the same hot objects again and again
  // (many of them, so one entry is not enough), and toUTCString costs far more than a lookup.
  const ms = date.getTime();
  let text = httpDates.get(ms);
  if (text === undefined) {
    text = date.toUTCString();
    // Bounded: start over when full (cheaper than LRU bookkeeping; hot instants come back at once).
    if (httpDates.size >= MAX_MEMO_HTTP_DATES) httpDates.clear();
    httpDates.set(ms, text);
  }
  return text;
}
const MAX_MEMO_HTTP_DATES = 4096;
const httpDates = new Map<number, string>();

/** `2009-10-12T17:50:30.000Z` (XML LastModified, Initiated, ...). */
export function formatIsoDate(date: Date): string {
  return date.toISOString();
}

/** `20130524T000000Z` (x-amz-date / X-Amz-Date basic format, second precision). */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Parse the basic format `20130524T000000Z`; undefined if malformed or not a real instant. */
export function parseAmzDate(value: string): Date | undefined {
  // One-entry memo: requests signed in the same second carry the same x-amz-date.
  if (value === lastAmzDateText) return new Date(lastAmzDateMs);
  const date = parseAmzDateUncached(value);
  if (date) {
    lastAmzDateText = value;
    lastAmzDateMs = date.getTime();
  }
  return date;
}
let lastAmzDateText = '';
let lastAmzDateMs = 0;

/** The decimal value of `len` ASCII digits at `at`, or -1 if any is not a digit. */
function digitsAt(value: string, at: number, len: number): number {
  let n = 0;
  for (let i = at; i < at + len; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

// Fixed layout `YYYYMMDDTHHMMSSZ`, read with charCodeAt (no regex, no per-field strings).
function parseAmzDateUncached(value: string): Date | undefined {
  if (value.length !== 16 || value.charCodeAt(8) !== 84 /* T */ || value.charCodeAt(15) !== 90 /* Z */)
    return undefined;
  const y = digitsAt(value, 0, 4);
  const mo = digitsAt(value, 4, 2);
  const d = digitsAt(value, 6, 2);
  const h = digitsAt(value, 9, 2);
  const mi = digitsAt(value, 11, 2);
  const s = digitsAt(value, 13, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Reject rolled-over values such as month 13 or second 61.
  if (
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  return date;
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850 =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parse an HTTP date (RFC 9110: IMF-fixdate, plus the obsolete RFC 850 and asctime forms, and
 * `+0000`-style RFC 2822 dates that some clients send in `Date`). Undefined if unparsable.
 */
export function parseHttpDate(value: string): Date | undefined {
  const v = value.trim();
  let ms: number;
  if (IMF_FIXDATE.test(v) || RFC850.test(v)) ms = Date.parse(v);
  else if (ASCTIME.test(v)) ms = Date.parse(`${v} GMT`);
  else if (/^(?:[A-Za-z]{3}, )?\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT|UTC|Z)$/.test(v))
    ms = Date.parse(v);
  else return undefined;
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Parse an ISO-8601 timestamp (with or without milliseconds); undefined if unparsable. */
export function parseIsoDate(value: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/.test(value))
    return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
