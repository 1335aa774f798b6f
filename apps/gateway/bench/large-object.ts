// Large objects: one 64 MiB object for the wrk bytes/s case, and the 1 GiB upload + download whose
// peak resident memory in the gateway process is the measured quantity. Bytes are generated and
// hashed on the fly on the client side; the download is hashed and discarded.
import { randomBytes } from 'node:crypto';
import { procMemory, type RunningChild } from './children.ts';
import { getHashed, putGenerated } from './http-client.ts';
import { type BenchSigner, objectPath } from './signing.ts';

export const PATTERN_BYTES = 1024 * 1024;
const RSS_SAMPLE_MS = 50;

/** Streams a generated object of `bytes` and checks a full read-back hashes the same. */
export async function putLargeVerified(
  signer: BenchSigner,
  bucket: string,
  key: string,
  bytes: number,
): Promise<void> {
  const pattern = randomBytes(PATTERN_BYTES);
  const sent = await putGenerated(
    signer.url(await signer.presign('PUT', objectPath(bucket, key))),
    bytes,
    pattern,
  );
  const got = await getHashed(signer.url(await signer.presign('GET', objectPath(bucket, key))));
  if (got.bytes !== bytes || got.sha256 !== sent) {
    throw new Error(
      `${bucket}/${key}: read back ${got.bytes} bytes (sha256 ${got.sha256}), sent ${bytes} (${sent})`,
    );
  }
}

export interface MemoryPeak {
  idleRssBytes: number;
  /** VmHWM after the upload and download: the process's peak since it started. */
  peakRssBytes: number;
  /** Highest VmRSS seen by sampling every RSS_SAMPLE_MS during the transfers. */
  sampledMaxRssBytes: number;
  uploadMs: number;
  downloadMs: number;
}

/** Uploads then downloads `bytes` through a freshly started gateway, watching its memory. */
export async function measureMemoryPeak(
  gateway: RunningChild,
  signer: BenchSigner,
  bucket: string,
  bytes: number,
): Promise<MemoryPeak> {
  const idle = procMemory(gateway.pid);
  let sampledMax = idle.rssBytes;
  const sampler = setInterval(() => {
    try {
      sampledMax = Math.max(sampledMax, procMemory(gateway.pid).rssBytes);
    } catch {
      // the process may be gone; the final read reports that
    }
  }, RSS_SAMPLE_MS);
  try {
    const pattern = randomBytes(PATTERN_BYTES);
    const key = objectPath(bucket, 'one-gibibyte.bin');
    const t0 = performance.now();
    const sent = await putGenerated(signer.url(await signer.presign('PUT', key)), bytes, pattern);
    const t1 = performance.now();
    const got = await getHashed(signer.url(await signer.presign('GET', key)));
    const t2 = performance.now();
    if (got.bytes !== bytes || got.sha256 !== sent) {
      throw new Error(
        `1 GiB read-back: ${got.bytes} bytes, sha256 ${got.sha256}; sent ${bytes} bytes, ${sent}`,
      );
    }
    const end = procMemory(gateway.pid);
    return {
      idleRssBytes: idle.rssBytes,
      peakRssBytes: end.peakRssBytes,
      sampledMaxRssBytes: Math.max(sampledMax, end.rssBytes),
      uploadMs: t1 - t0,
      downloadMs: t2 - t1,
    };
  } finally {
    clearInterval(sampler);
  }
}
