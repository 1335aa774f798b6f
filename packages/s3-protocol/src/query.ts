// Query strings as S3 reads them. Invariant: parameters keep their order and their presence
// (`?uploads` and `?uploads=` both name `uploads` with value ''), `+` decodes to a space as in
// form encoding, and the raw text of each pair is kept for signature canonicalisation.
//
// Hazard: a value may percent-encode bytes that are not UTF-8. Values are therefore decoded
// lazily, so authentication (which reads only its own parameters and canonicalises raw bytes)
// never fails on a value it does not need; reading such a value throws InvalidArgument.

import { percentDecodeBytes, percentDecodeUtf8 } from './uri.ts';

/** One query parameter: raw text as sent plus its decoded name and (lazily) decoded value. */
export interface QueryParam {
  readonly rawName: string;
  /** Undefined when the pair had no `=`. */
  readonly rawValue: string | undefined;
  readonly name: string;
  /** Decoded value ('' when absent); throws S3Error(InvalidArgument) if it is not UTF-8. */
  readonly value: string;
}

class LazyParam implements QueryParam {
  readonly rawName: string;
  readonly rawValue: string | undefined;
  readonly name: string;
  private decoded: string | undefined;
  constructor(rawName: string, rawValue: string | undefined) {
    this.rawName = rawName;
    this.rawValue = rawValue;
    // Names are matched against ASCII parameter names; decode leniently (never throws).
    this.name =
      rawName.includes('%') || rawName.includes('+')
        ? percentDecodeBytes(rawName, true).toString('utf8')
        : rawName;
  }
  get value(): string {
    this.decoded ??=
      this.rawValue === undefined ? '' : percentDecodeUtf8(this.rawValue, true, 'query string');
    return this.decoded;
  }
}

/** Split a raw query (no leading `?`) into parameters, in order. Empty pairs (`a&&b`) are skipped. */
export function parseQueryParams(rawQuery: string): QueryParam[] {
  const out: QueryParam[] = [];
  if (rawQuery === '') return out;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    out.push(new LazyParam(eq === -1 ? pair : pair.slice(0, eq), eq === -1 ? undefined : pair.slice(eq + 1)));
  }
  return out;
}

/** Decoded query as a Map (first occurrence wins), for routing on parameter presence. */
export function parseQuery(rawQuery: string): Map<string, string> {
  return queryMapOf(parseQueryParams(rawQuery));
}

/**
 * `parseQuery` from already split parameters (decodes every value, so a non-UTF-8 value throws
 * here). The decoded values stay cached in `params` for whoever reads them next (authentication).
 */
export function queryMapOf(params: readonly QueryParam[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of params) if (!map.has(p.name)) map.set(p.name, p.value);
  return map;
}
