// Test support (not exported): an aws-chunked encoder written from the AWS SigV4 streaming
// documentation, to produce signed and unsigned bodies the SDKs in node_modules cannot
// (the JS SDK only sends STREAMING-UNSIGNED-PAYLOAD-TRAILER).

import { createHash, createHmac } from 'node:crypto';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface EncodeOptions {
  chunkSizes: number[];
  signing?: { signingKey: Buffer; seedSignature: string; amzDate: string; scope: string };
  trailers?: [string, string][];
  signTrailer?: boolean;
}

/** Encode `data` split at `chunkSizes` (the rest goes in a last chunk), then the 0-chunk and trailers. */
export function encodeAwsChunked(data: Buffer, opts: EncodeOptions): Buffer {
  const parts: Buffer[] = [];
  let prev = opts.signing?.seedSignature ?? '';
  const sign = (chunk: Buffer): string => {
    const s = opts.signing!;
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${s.amzDate}\n${s.scope}\n${prev}\n${EMPTY_SHA256}\n${createHash('sha256').update(chunk).digest('hex')}`;
    prev = createHmac('sha256', s.signingKey).update(sts).digest('hex');
    return prev;
  };
  const chunks: Buffer[] = [];
  let pos = 0;
  for (const size of opts.chunkSizes) {
    if (pos >= data.length) break;
    chunks.push(data.subarray(pos, pos + size));
    pos += size;
  }
  if (pos < data.length) chunks.push(data.subarray(pos));
  chunks.push(Buffer.alloc(0));
  for (const chunk of chunks) {
    const ext = opts.signing ? `;chunk-signature=${sign(chunk)}` : '';
    parts.push(Buffer.from(`${chunk.length.toString(16)}${ext}\r\n`, 'latin1'));
    if (chunk.length > 0) parts.push(chunk, Buffer.from('\r\n'));
  }
  for (const [k, v] of opts.trailers ?? []) parts.push(Buffer.from(`${k}:${v}\r\n`, 'latin1'));
  if (opts.signTrailer && opts.signing) {
    const s = opts.signing;
    const canonical = (opts.trailers ?? []).map(([k, v]) => `${k}:${v}\n`).join('');
    const sts = `AWS4-HMAC-SHA256-TRAILER\n${s.amzDate}\n${s.scope}\n${prev}\n${createHash('sha256').update(canonical).digest('hex')}`;
    parts.push(
      Buffer.from(
        `x-amz-trailer-signature:${createHmac('sha256', s.signingKey).update(sts).digest('hex')}\r\n`,
      ),
    );
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Yield `body` in pieces of the given sizes (cycled), as a socket might deliver it. */
export async function* pieces(body: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let pos = 0;
  let i = 0;
  while (pos < body.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    yield body.subarray(pos, pos + n);
    pos += n;
  }
}
