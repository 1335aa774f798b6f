// Informal per-request cost of SigV4 header verification and aws-chunked decoding:
// `node packages/s3-protocol/bench/authenticate.ts`. Prints timings; asserts nothing.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { authenticate } from '../src/auth/authenticate.ts';
import { deriveSigningKey } from '../src/auth/signing-key.ts';
import type { AuthContext } from '../src/auth/types.ts';
import { formatAmzDate } from '../src/dates.ts';
import { verifyPayload } from '../src/payload/verify-payload.ts';

const secret = 'bench-secret';
const now = new Date();
const amzDate = formatAmzDate(now);
const date = amzDate.slice(0, 8);
const scope = `${date}/us-east-1/s3/aws4_request`;
const key = deriveSigningKey(secret, date, 'us-east-1', 's3');
const payloadHash = 'UNSIGNED-PAYLOAD';
const path = '/bucket/some/fairly/long/key%20with%20spaces/and-unicode-%C3%BC.bin';
const query = 'x-id=GetObject';
const headers: Record<string, string> = {
  host: '127.0.0.1:9000',
  'x-amz-date': amzDate,
  'x-amz-content-sha256': payloadHash,
  'x-amz-user-agent': 'aws-sdk-js/3',
  'amz-sdk-invocation-id': 'c1d91372-3d56-41ce-9404-2fb2c141dbeb',
  'amz-sdk-request': 'attempt=1; max=3',
};
const signed = Object.keys(headers).sort();
const canonical = `GET\n${path}\n${query}\n${signed.map((h) => `${h}:${headers[h]}\n`).join('')}\n${signed.join(';')}\n${payloadHash}`;
const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
const signature = createHmac('sha256', key).update(sts).digest('hex');
headers.authorization = `AWS4-HMAC-SHA256 Credential=AKID/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;

const req = { method: 'GET', rawPath: path, rawQuery: query, headers };
const lookup = (): string => secret;
for (let i = 0; i < 2000; i++) authenticate(req, lookup, { region: 'us-east-1', now });
const n = 50_000;
let start = process.hrtime.bigint();
for (let i = 0; i < n; i++) authenticate(req, lookup, { region: 'us-east-1', now });
let ns = Number(process.hrtime.bigint() - start) / n;
process.stdout.write(`sigv4 header verify: ${(ns / 1000).toFixed(1)} µs/request\n`);

// aws-chunked unsigned-trailer decoding of 64 MiB in 64 KiB chunks, fed in 16 KiB socket reads.
const chunk = randomBytes(64 * 1024);
const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
async function* body(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 1024; i++)
    for (let p = 0; p < framed.length; p += 16_384) yield framed.subarray(p, p + 16_384);
  yield Buffer.from('0\r\n\r\n');
}
const ctx: AuthContext = {
  method: 'sigv4-header',
  accessKeyId: 'a',
  payloadMode: 'STREAMING-UNSIGNED-TRAILER',
};
start = process.hrtime.bigint();
const v = verifyPayload(body(), ctx, { 'content-encoding': 'aws-chunked' }, { compute: [] });
let bytes = 0;
for await (const c of v.body) bytes += c.length;
ns = Number(process.hrtime.bigint() - start);
process.stdout.write(
  `aws-chunked decode: ${(bytes / 1024 / 1024 / (ns / 1e9)).toFixed(0)} MB/s (no hashing)\n`,
);
