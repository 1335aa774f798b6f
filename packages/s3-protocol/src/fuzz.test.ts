// Bounded fuzzing of the parsers that face untrusted bytes: whatever the input, the outcome is a
// result or an S3Error, never another exception (the gateway maps S3Errors to responses; anything
// else would be a 500 or a crash).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authenticate } from './auth/authenticate.ts';
import type { AuthContext } from './auth/types.ts';
import { S3Error } from './errors.ts';
import { verifyPayload } from './payload/verify-payload.ts';
import { parseCompleteMultipartUpload, parseDeleteObjects } from './request-bodies.ts';
import { encodeAwsChunked, pieces } from './testing/aws-chunked-encoder.ts';
import { parseXml } from './xml-parse.ts';

// Small deterministic PRNG so a failure is reproducible from the printed seed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(input);
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = Math.floor(rand() * out.length);
    const kind = rand();
    if (kind < 0.5) out[at] = Math.floor(rand() * 256);
    else if (kind < 0.75) return Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else
      return Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), out.subarray(at)]);
  }
  return out;
}

function onlyS3Errors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof S3Error)) throw e;
  }
}

describe('fuzz', () => {
  it('XML request-body parsers throw only S3Errors', () => {
    const seeds = [
      '<?xml version="1.0"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>',
      '<Delete><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>',
    ].map((s) => Buffer.from(s));
    const rand = rng(12345);
    for (let i = 0; i < 3000; i++) {
      const input = mutate(seeds[i % seeds.length]!, rand);
      onlyS3Errors(() => parseXml(input));
      onlyS3Errors(() => parseCompleteMultipartUpload(input));
      onlyS3Errors(() => parseDeleteObjects(input));
    }
  });

  it('aws-chunked decoding throws only S3Errors and never yields more than declared', async () => {
    const data = randomBytes(3000);
    const body = encodeAwsChunked(data, {
      chunkSizes: [1000, 7, 500],
      trailers: [['x-amz-checksum-crc32', 'AAAAAA==']],
    });
    const ctx: AuthContext = {
      method: 'sigv4-header',
      accessKeyId: 'a',
      payloadMode: 'STREAMING-UNSIGNED-TRAILER',
    };
    const headers = {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '3000',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const rand = rng(777);
    for (let i = 0; i < 1500; i++) {
      const input = i === 0 ? body : mutate(body, rand);
      let yielded = 0;
      try {
        const v = verifyPayload(pieces(input, [1 + Math.floor(rand() * 700)]), ctx, headers);
        for await (const c of v.body) yielded += c.length;
      } catch (e) {
        if (!(e instanceof S3Error)) throw e;
      }
      expect(yielded).toBeLessThanOrEqual(3000);
    }
  });

  it('authenticate throws only S3Errors on mangled authorization data', () => {
    const rand = rng(99);
    const base =
      'AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=' +
      'a'.repeat(64);
    const query =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab';
    for (let i = 0; i < 2000; i++) {
      const auth = mutate(Buffer.from(base), rand).toString('latin1');
      const q = mutate(Buffer.from(query), rand).toString('latin1');
      const path = mutate(Buffer.from('/bkt/a%20b/../c'), rand).toString('latin1');
      const headers = {
        host: 'h',
        'x-amz-date': '20260101T000000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: auth,
      };
      const opts = { region: 'us-east-1', now: new Date(Date.UTC(2026, 0, 1)) };
      onlyS3Errors(() =>
        authenticate({ method: 'GET', rawPath: path, rawQuery: '', headers }, () => 's', opts),
      );
      onlyS3Errors(() =>
        authenticate({ method: 'GET', rawPath: path, rawQuery: q, headers: { host: 'h' } }, () => 's', opts),
      );
      onlyS3Errors(() =>
        authenticate(
          {
            method: 'GET',
            rawPath: path,
            rawQuery: '',
            headers: { host: 'h', date: 'x', authorization: `AWS ${auth}` },
          },
          () => 's',
          opts,
        ),
      );
    }
  });
});
