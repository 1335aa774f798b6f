// ListObjectsV2 over a bucket of LIST_KEYS keys: seeded with tiny objects, paged through with the
// SDK (every key checked: all present, once, in order), and the page requests (with their
// continuation tokens) presigned for wrk.
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { inFlight } from '../../../packages/engine/bench/measure.ts';
import { putBody } from './http-client.ts';
import { type BenchSigner, objectPath, type SignedRequest } from './signing.ts';
import { keyName } from './small-objects.ts';

export const LIST_KEYS = 10_000;
export const PAGE_KEYS = 1000;
const SEED_DEPTH = 32;

export function listKeys(): string[] {
  return Array.from({ length: LIST_KEYS }, (_, i) => keyName('data', i));
}

export async function seedListBucket(signer: BenchSigner, bucket: string, keys: string[]): Promise<void> {
  await inFlight(keys.length, SEED_DEPTH, async (i) => {
    const req = await signer.presign('PUT', objectPath(bucket, keys[i]!));
    await putBody(signer.url(req), randomBytes(16));
  });
}

export interface SdkListing {
  ms: number;
  /** The continuation token of every page after the first. */
  tokens: string[];
}

/** Pages through the whole bucket with the SDK; throws unless exactly `expected` come back, in order. */
export async function listWithSdk(
  signer: BenchSigner,
  bucket: string,
  expected: string[],
): Promise<SdkListing> {
  const seen: string[] = [];
  const tokens: string[] = [];
  let token: string | undefined;
  const t0 = performance.now();
  do {
    const page = await signer.client.send(
      new ListObjectsV2Command({ Bucket: bucket, MaxKeys: PAGE_KEYS, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) seen.push(o.Key!);
    token = page.NextContinuationToken;
    if (page.IsTruncated && token === undefined)
      throw new Error('truncated page without a continuation token');
    if (token !== undefined) tokens.push(token);
  } while (token !== undefined);
  const ms = performance.now() - t0;
  const sorted = [...expected].sort();
  if (seen.length !== sorted.length || seen.some((k, i) => k !== sorted[i])) {
    throw new Error(`listing returned ${seen.length} keys, expected ${sorted.length} in order`);
  }
  return { ms, tokens };
}

/** One presigned ListObjectsV2 request per page (the first page has no token). */
export async function presignPages(
  signer: BenchSigner,
  bucket: string,
  tokens: string[],
): Promise<SignedRequest[]> {
  const out: SignedRequest[] = [];
  for (const token of [undefined, ...tokens]) {
    const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(PAGE_KEYS) };
    if (token !== undefined) query['continuation-token'] = token;
    out.push(await signer.presign('GET', `/${bucket}`, query));
  }
  return out;
}
