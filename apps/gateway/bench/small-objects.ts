// The 4 KiB cases: signed request sets for wrk (GET of N distinct seeded objects, PUT of 4 KiB to
// distinct keys), and the read-back checks that prove the PUTs stored what was sent.
import { randomBytes } from 'node:crypto';
import { inFlight } from '../../../packages/engine/bench/measure.ts';
import { getHashed, putBody } from './http-client.ts';
import { type BenchSigner, objectPath, type SignedRequest, sha256Hex } from './signing.ts';

export const SMALL_BYTES = 4096;
/** The PUT body wrk sends (wrk-replay.lua: string.rep("b", n)); header-signed PUTs sign its hash. */
export const PUT_BODY = Buffer.alloc(SMALL_BYTES, 'b');
const SEED_DEPTH = 16;

export function keyName(prefix: string, i: number): string {
  return `${prefix}/obj-${String(i).padStart(6, '0')}`;
}

/** PUTs `count` distinct random 4 KiB objects; returns their keys. */
export async function seedObjects(
  signer: BenchSigner,
  bucket: string,
  prefix: string,
  count: number,
  bytes = SMALL_BYTES,
): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => keyName(prefix, i));
  await inFlight(count, SEED_DEPTH, async (i) => {
    const req = await signer.presign('PUT', objectPath(bucket, keys[i]!));
    await putBody(signer.url(req), randomBytes(bytes));
  });
  return keys;
}

export async function presignAll(
  signer: BenchSigner,
  method: string,
  bucket: string,
  keys: string[],
): Promise<SignedRequest[]> {
  const out: SignedRequest[] = [];
  for (const key of keys) out.push(await signer.presign(method, objectPath(bucket, key)));
  return out;
}

/** Header-signed GETs (UNSIGNED-PAYLOAD: a GET has no body). */
export async function headerSignGets(
  signer: BenchSigner,
  bucket: string,
  keys: string[],
): Promise<SignedRequest[]> {
  const out: SignedRequest[] = [];
  for (const key of keys)
    out.push(await signer.headerSign('GET', objectPath(bucket, key), 'UNSIGNED-PAYLOAD', undefined));
  return out;
}

/** Header-signed PUTs of PUT_BODY with its SHA-256 signed: the gateway must hash every body. */
export async function headerSignPuts(
  signer: BenchSigner,
  bucket: string,
  keys: string[],
): Promise<SignedRequest[]> {
  const hash = sha256Hex(PUT_BODY);
  const out: SignedRequest[] = [];
  for (const key of keys)
    out.push(await signer.headerSign('PUT', objectPath(bucket, key), hash, PUT_BODY.length));
  return out;
}

/** Reads back `sample` of the keys wrk wrote and checks each holds exactly PUT_BODY. */
export async function verifyPuts(signer: BenchSigner, bucket: string, keys: string[]): Promise<void> {
  const want = sha256Hex(PUT_BODY);
  for (const key of keys) {
    const got = await getHashed(signer.url(await signer.presign('GET', objectPath(bucket, key))));
    if (got.bytes !== PUT_BODY.length || got.sha256 !== want) {
      throw new Error(
        `read-back of ${bucket}/${key} after the PUT case: ${got.bytes} bytes, sha256 ${got.sha256}`,
      );
    }
  }
}
