// Query strings as S3 reads them. Invariant: parameters keep their order and their presence
// (`?uploads` and `?uploads=` both name `uploads` with value ''), `+` decodes to a space as in
// form encoding, and the raw text of each pair is kept for signature canonicalisation.

import { percentDecodeUtf8 } from './uri.ts';

/** One query parameter: raw text as sent plus its decoded name and value. */
export interface QueryParam {
  rawName: string;
  /** Undefined when the pair had no `=`. */
  rawValue: string | undefined;
  name: string;
  value: string;
}

/** Split a raw query (no leading `?`) into parameters, in order. Empty pairs (`a&&b`) are skipped. */
export function parseQueryParams(rawQuery: string): QueryParam[] {
  const out: QueryParam[] = [];
  if (rawQuery === '') return out;
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? undefined : pair.slice(eq + 1);
    out.push({
      rawName,
      rawValue,
      name: percentDecodeUtf8(rawName, true, 'query string'),
      value: rawValue === undefined ? '' : percentDecodeUtf8(rawValue, true, 'query string'),
    });
  }
  return out;
}

/** Decoded query as a Map (first occurrence wins), for routing on parameter presence. */
export function parseQuery(rawQuery: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of parseQueryParams(rawQuery)) if (!map.has(p.name)) map.set(p.name, p.value);
  return map;
}
