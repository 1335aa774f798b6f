// SigV4 signing-key derivation with a small cache. Invariant: the cache is bounded
// (maxEntries) and keyed by every input of the derivation, so a hit is always the key the HMAC
// chain would produce. Deriving costs four HMACs; a busy client reuses one key all day.

import { createHmac, hash, timingSafeEqual } from 'node:crypto';

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

/** Constant-time comparison of two signatures as text (bytes of latin1 text; hex or base64). */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** SigV2: base64 HMAC-SHA1 of `stringToSign` with the secret (headers, presigned URLs, POST forms). */
export function sigV2Signature(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

/** Lower-case hex HMAC-SHA256 of `data` with `key`. */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

// HMAC-SHA256 as two one-shot hashes over the key's pads (RFC 2104): a `createHmac` object costs
// about twice as much as the two `hash()` calls, and a request verifies one signature per key.
// The pads of the last key are kept (a signing key is reused all day); the inner message is
// written into a scratch buffer after the inner pad.
const SHA256_BLOCK_BYTES = 64;
const SHA256_BYTES = 32;
const SCRATCH_BYTES = 4096;
const innerScratch = Buffer.alloc(SCRATCH_BYTES);
const outerScratch = Buffer.alloc(SHA256_BLOCK_BYTES + SHA256_BYTES);
let paddedKey: Buffer | undefined;
let paddedKeyCopy = Buffer.alloc(0);

function loadPads(key: Buffer): void {
  // Identity and content both: a caller could reuse a Buffer with other bytes.
  if (key === paddedKey && key.equals(paddedKeyCopy)) return;
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
    const k = i < key.length ? key[i]! : 0;
    innerScratch[i] = k ^ 0x36;
    outerScratch[i] = k ^ 0x5c;
  }
  paddedKey = key;
  paddedKeyCopy = Buffer.from(key);
}

/** Raw HMAC-SHA256 of `data` with `key` (compared as bytes: no hex round trip). */
export function hmacDigest(key: Buffer, data: string): Buffer {
  // Keys longer than a block are hashed first by HMAC; messages must fit the scratch (UTF-8 is
  // at most 3 bytes per UTF-16 unit).
  if (key.length > SHA256_BLOCK_BYTES || SHA256_BLOCK_BYTES + data.length * 3 > SCRATCH_BYTES)
    return createHmac('sha256', key).update(data, 'utf8').digest();
  loadPads(key);
  const n = innerScratch.write(data, SHA256_BLOCK_BYTES, 'utf8');
  const inner = hash('sha256', innerScratch.subarray(0, SHA256_BLOCK_BYTES + n), 'buffer');
  inner.copy(outerScratch, SHA256_BLOCK_BYTES);
  return hash('sha256', outerScratch, 'buffer');
}

/** Entries currently cached (for tests of the bound). */
export function signingKeyCacheSize(): number {
  return cache.size;
}
