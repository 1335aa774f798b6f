// SigV4 for wrk: wrk's Lua cannot sign, so every request it sends is signed here beforehand, by the
// AWS SDK (an implementation independent of the gateway's verifier):
// - presigned (query auth, 7-day expiry, UNSIGNED-PAYLOAD) with @aws-sdk/s3-request-presigner;
// - header-signed with the S3 client's own signer. Hazard: a header signature is valid only
//   within the ±15 min clock skew, so header-signed request files are made right before use.
//   wrk adds Host and Content-Length itself (same values as signed), so those are not written.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';

export const PRESIGN_EXPIRY_SEC = 7 * 24 * 3600;

export interface Endpoint {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** One request line for wrk-replay.lua. */
export interface SignedRequest {
  method: string;
  /** Path and query, as sent on the request line. */
  target: string;
  headers?: Record<string, string>;
}

interface RawRequest {
  method: string;
  protocol: string;
  hostname: string;
  port: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/** RFC 3986 encoding, as SigV4 canonicalizes (encodeURIComponent leaves !'()* alone). */
function strictEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(strictEncode).join('/')}`;
}

function target(path: string, query: Record<string, string | string[] | null | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${strictEncode(k)}=${strictEncode(one)}`);
  }
  return parts.length === 0 ? path : `${path}?${parts.join('&')}`;
}

export class BenchSigner {
  readonly client: S3Client;
  private readonly endpoint: URL;
  private readonly presigner: S3RequestPresigner;
  private readonly region: string;

  constructor(ep: Endpoint) {
    this.endpoint = new URL(ep.url);
    this.region = ep.region;
    this.client = new S3Client({
      endpoint: ep.url,
      region: ep.region,
      credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
      forcePathStyle: true,
      // Presigned PUT URLs must not carry a checksum of an empty body.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.presigner = new S3RequestPresigner({ ...this.client.config });
  }

  private raw(method: string, path: string, query: Record<string, string>, headers: Record<string, string>) {
    const request: RawRequest = {
      method,
      protocol: 'http:',
      hostname: this.endpoint.hostname,
      port: Number(this.endpoint.port),
      path,
      query,
      headers: { host: this.endpoint.host, ...headers },
    };
    return request;
  }

  /** A presigned request (query auth), e.g. presign('GET', objectPath(b, k)). */
  async presign(method: string, path: string, query: Record<string, string> = {}): Promise<SignedRequest> {
    const signed = await this.presigner.presign(this.raw(method, path, query, {}), {
      expiresIn: PRESIGN_EXPIRY_SEC,
    });
    return { method, target: target(signed.path, signed.query ?? {}) };
  }

  /** A header-signed request; `payloadSha256` is the hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  async headerSign(
    method: string,
    path: string,
    payloadSha256: string,
    contentLength: number | undefined,
  ): Promise<SignedRequest> {
    const signer = await this.client.config.signer({
      name: 'sigv4',
      signingName: 's3',
      signingRegion: this.region,
      properties: {},
    });
    const headers: Record<string, string> = { 'x-amz-content-sha256': payloadSha256 };
    if (contentLength !== undefined) headers['content-length'] = String(contentLength);
    const signed = await signer.sign(this.raw(method, path, {}, headers), {
      signingRegion: this.region,
      signingService: 's3',
    });
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers as Record<string, string>)) {
      if (name !== 'host' && name !== 'content-length') out[name] = value;
    }
    return { method, target: target(signed.path, signed.query ?? {}), headers: out };
  }

  /** The absolute URL of a signed request (for node:http clients). */
  url(req: SignedRequest): string {
    return `${this.endpoint.origin}${req.target}`;
  }
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes the tab-separated request file wrk-replay.lua reads. */
export async function writeRequestFile(file: string, requests: SignedRequest[]): Promise<void> {
  const lines = requests.map((r) =>
    [r.method, r.target, ...Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}`)].join('\t'),
  );
  await writeFile(file, `${lines.join('\n')}\n`);
}
