// Test support: a minimal SigV4 request signer, so tests can send the payload modes no installed
// SDK produces (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its -TRAILER variant) together with
// encodeAwsChunked. Written from the AWS documentation; it signs exactly the headers it is given.

import { createHash, createHmac } from 'node:crypto';
import { deriveSigningKey } from '../auth/signing-key.ts';
import { formatAmzDate } from '../dates.ts';

export interface SignV4Input {
  method: string;
  /** The path exactly as it will be sent (already percent-encoded). */
  rawPath: string;
  /** The query exactly as it will be sent ('' for none); values already percent-encoded. */
  rawQuery: string;
  /** Headers to sign and send, lower-case names; must include host. x-amz-date and x-amz-content-sha256 are added. */
  headers: Record<string, string>;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** x-amz-content-sha256: a hex digest, UNSIGNED-PAYLOAD or a STREAMING-* value. */
  payloadHash: string;
  date?: Date;
}

export interface SignV4Output {
  /** The input headers plus x-amz-date, x-amz-content-sha256 and authorization. */
  headers: Record<string, string>;
  /** What encodeAwsChunked needs to sign chunks. */
  signing: { signingKey: Buffer; seedSignature: string; amzDate: string; scope: string };
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => (p.includes('=') ? p : `${p}=`))
    .sort()
    .join('&');
}

/** Sign a request with SigV4 (Authorization header). The raw query must already be SigV4-encoded. */
export function signV4(input: SignV4Input): SignV4Output {
  const amzDate = formatAmzDate(input.date ?? new Date());
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const headers: Record<string, string> = {
    ...input.headers,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': input.payloadHash,
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    input.method,
    input.rawPath,
    canonicalQuery(input.rawQuery),
    names.map((n) => `${n}:${headers[n]!.trim()}\n`).join(''),
    names.join(';'),
    input.payloadHash,
  ].join('\n');
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const signingKey = deriveSigningKey(input.secretAccessKey, day, input.region, 's3');
  const seedSignature = createHmac('sha256', signingKey).update(sts).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${seedSignature}`;
  return { headers, signing: { signingKey, seedSignature, amzDate, scope } };
}
