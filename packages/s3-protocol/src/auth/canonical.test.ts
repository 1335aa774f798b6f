import { describe, expect, it } from 'vitest';
import { parseQueryParams } from '../query.ts';
import { percentDecodeBytes, uriEncodeBytes } from '../uri.ts';
import { canonicalHeadersBlock, canonicalQueryString, canonicalUriCandidates } from './canonical.ts';

// The plain definitions the fast paths must agree with: decode every component, encode it again.
function referenceUri(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  const canonical = path
    .split('/')
    .map((s) => uriEncodeBytes(percentDecodeBytes(s)))
    .join('/');
  return canonical === path ? [canonical] : [canonical, path];
}

function referenceQuery(rawQuery: string, omit?: string): string {
  const pairs: [string, string][] = [];
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const name = percentDecodeBytes(rawName, true).toString('utf8');
    if (omit !== undefined && name === omit) continue;
    pairs.push([
      uriEncodeBytes(percentDecodeBytes(rawName, true)),
      eq === -1 ? '' : uriEncodeBytes(percentDecodeBytes(pair.slice(eq + 1), true)),
    ]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

// Deterministic PRNG so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = [
  'a',
  'Z',
  '9',
  '-',
  '.',
  '_',
  '~',
  '%',
  '%2F',
  '%2f',
  '%41',
  '%7e',
  '%7E',
  '%20',
  '%C3%BC',
  '%c3',
  '%G1',
  '+',
  ' ',
  '!',
  '*',
  'ü',
  '/',
  '=',
  '&',
  '%25',
  'X-Amz-Signature',
];

function randomText(next: () => number, maxPieces: number): string {
  let out = '';
  const n = Math.floor(next() * maxPieces);
  for (let i = 0; i < n; i++) out += PIECES[Math.floor(next() * PIECES.length)];
  return out;
}

describe('canonical fast paths agree with decode-then-encode', () => {
  it('canonical URI candidates', () => {
    const next = rng(1);
    for (let i = 0; i < 5000; i++) {
      const path = `/${randomText(next, 12)}`;
      expect(canonicalUriCandidates(path), path).toEqual(referenceUri(path));
    }
    expect(canonicalUriCandidates('/b/%41')).toEqual(['/b/A', '/b/%41']);
    expect(canonicalUriCandidates('/b/a%2Fb')).toEqual(['/b/a%2Fb']);
    expect(canonicalUriCandidates('/b/a%')).toEqual(['/b/a%25', '/b/a%']);
  });

  it('canonical query strings (sorted or not, with and without the omitted parameter)', () => {
    const next = rng(2);
    for (let i = 0; i < 5000; i++) {
      const query = randomText(next, 16);
      expect(canonicalQueryString(query), query).toBe(referenceQuery(query));
      expect(canonicalQueryString(query, 'X-Amz-Signature'), query).toBe(
        referenceQuery(query, 'X-Amz-Signature'),
      );
      // The one-pass form over already split parameters gives the same text.
      const params = parseQueryParams(query);
      expect(canonicalQueryString(query, undefined, params), query).toBe(referenceQuery(query));
      expect(canonicalQueryString(query, 'X-Amz-Signature', params), query).toBe(
        referenceQuery(query, 'X-Amz-Signature'),
      );
      // Sorted input (the common case, built in one pass).
      const sorted = params
        .map((p) => (p.rawValue === undefined ? p.rawName : `${p.rawName}=${p.rawValue}`))
        .sort()
        .join('&');
      expect(canonicalQueryString(sorted, undefined, parseQueryParams(sorted)), sorted).toBe(
        referenceQuery(sorted),
      );
    }
    expect(canonicalQueryString('b=1&a=2&a=1')).toBe('a=1&a=2&b=1');
    expect(canonicalQueryString('a=%7e&a=b+c')).toBe('a=b%20c&a=~');
  });

  it('header values: trimmed, whitespace runs collapsed, clean values untouched', () => {
    const headers = {
      a: 'plain value',
      b: '  padded  ',
      c: 'tab\there',
      d: 'two  spaces',
      e: 'nbsp\u00a0x',
      f: '',
    };
    expect(canonicalHeadersBlock(headers, ['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toBe(
      'a:plain value\nb:padded\nc:tab here\nd:two spaces\ne:nbsp x\nf:\ng:\n',
    );
  });
});
