// SigV4 signing-key derivation with a small cache. Invariant: the cache is bounded
// (maxEntries) and keyed by every input of the derivation, so a hit is always the key the HMAC
// chain would produce. Deriving costs four HMACs; a busy client reuses one key all day.

import { createHmac } from 'node:crypto';

const MAX_ENTRIES = 256;
const cache = new Map<string, Buffer>();

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  // One-entry front memo: almost every request repeats the previous scope, and comparing four
  // strings is cheaper than building the map key.
  const last = lastHit;
  if (
    last !== undefined &&
    last.secret === secret &&
    last.date === date &&
    last.region === region &&
    last.service === service
  )
    return last.key;
  const key = deriveViaCache(secret, date, region, service);
  lastHit = { secret, date, region, service, key };
  return key;
}
let lastHit: { secret: string; date: string; region: string; service: string; key: Buffer } | undefined;

function deriveViaCache(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\n${region}\n${service}\n${secret}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  if (cache.size >= MAX_ENTRIES) {
    // Map iteration order is insertion order: drop the oldest entry.
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(id, key);
  return key;
}

/** Lower-case hex HMAC-SHA256 of `data` with `key`. */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/** Raw HMAC-SHA256 of `data` with `key` (compared as bytes: no hex round trip). */
export function hmacDigest(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Entries currently cached (for tests of the bound). */
export function signingKeyCacheSize(): number {
  return cache.size;
}
