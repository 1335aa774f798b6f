import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Error } from '../errors.ts';
import { type CapturedRequest, type CaptureServer, startCaptureServer } from '../testing/capture-server.ts';
import { s3ErrorCode } from '../testing/error-code.ts';
import { authenticate } from './authenticate.ts';
import type { AuthOptions, AuthRequest } from './types.ts';

const AKID = 'AKIDV2EXAMPLE';
const SECRET = 'v2secret/with+odd=chars';
const lookup = (id: string): string | undefined => (id === AKID ? SECRET : undefined);
const KEYS = ['plain', 'a/../b', 'sp ace', 'a+b', '100%', 'ünï/😀', "!*'()", 'q?x#y&z=1'];
const SCRIPT = fileURLToPath(new URL('../testing/botocore_client.py', import.meta.url));

function opts(extra: Partial<AuthOptions> = {}): AuthOptions {
  return { region: 'us-east-1', now: new Date(), ...extra };
}
function toReq(c: CapturedRequest): AuthRequest {
  return { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery, headers: c.headers };
}

// botocore (the library aws-cli and boto3 use) is the reference SigV2 signer here.
describe('SigV2 with botocore', () => {
  let server: CaptureServer;
  let urls: string[];

  beforeAll(async () => {
    server = await startCaptureServer();
    const { stdout } = await promisify(execFile)(
      'python3',
      [SCRIPT, server.endpoint, AKID, SECRET, JSON.stringify(KEYS), 's3'],
      {
        timeout: 60_000,
      },
    );
    urls = JSON.parse(stdout) as string[];
  });
  afterAll(async () => {
    await server.close();
  });

  it('verifies SigV2 header-signed requests (sub-resources, metadata, awkward keys)', () => {
    expect(server.requests.length).toBeGreaterThanOrEqual(KEYS.length * 2 + 6);
    for (const c of server.requests) {
      expect(c.headers.authorization).toMatch(/^AWS AKIDV2EXAMPLE:/);
      const ctx = authenticate(toReq(c), lookup, opts());
      expect(ctx.method, `${c.method} ${c.rawUrl}`).toBe('sigv2-header');
      expect(ctx.accessKeyId).toBe(AKID);
      expect(ctx.payloadMode).toBe('UNSIGNED-PAYLOAD');
    }
    expect(
      server.requests.some((r) => r.rawQuery.includes('uploadId=') && r.rawQuery.includes('partNumber=')),
    ).toBe(true);
    expect(server.requests.some((r) => r.rawQuery.includes('response-content-type='))).toBe(true);
  });

  it('rejects tampered, skewed and unknown-key SigV2 requests', () => {
    const good = toReq(server.requests.find((r) => r.method === 'PUT')!);
    expect(s3ErrorCode(() => authenticate({ ...good, rawPath: `${good.rawPath}x` }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, headers: { ...good.headers, 'x-amz-meta-color': 'red' } }, lookup, opts()),
      ),
    ).toBe('SignatureDoesNotMatch');
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, headers: { ...good.headers, 'content-type': 'x/y' } }, lookup, opts()),
      ),
    ).toBe('SignatureDoesNotMatch');
    // Unsigned query parameters are not part of SigV2's resource; sub-resources are.
    expect(s3ErrorCode(() => authenticate({ ...good, rawQuery: 'foo=bar' }, lookup, opts()))).toBe('ok');
    expect(s3ErrorCode(() => authenticate({ ...good, rawQuery: 'acl' }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(s3ErrorCode(() => authenticate(good, () => undefined, opts()))).toBe('InvalidAccessKeyId');
    expect(
      s3ErrorCode(() => authenticate(good, lookup, opts({ now: new Date(Date.now() + 20 * 60_000) }))),
    ).toBe('RequestTimeTooSkewed');
    const { date: _d, ...noDate } = good.headers;
    expect(s3ErrorCode(() => authenticate({ ...good, headers: noDate }, lookup, opts()))).toBe(
      'AccessDenied',
    );
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, headers: { ...good.headers, authorization: 'AWS nocolon' } }, lookup, opts()),
      ),
    ).toBe('InvalidArgument');
  });

  it('verifies SigV2 presigned URLs and rejects expired or tampered ones', () => {
    expect(urls.length).toBe(KEYS.length + 2);
    for (const url of urls) {
      expect(url).toContain('AWSAccessKeyId=');
      const q = url.indexOf('?');
      const pathStart = url.indexOf('/', 'http://'.length);
      const req: AuthRequest = {
        method: url.endsWith('put') || url.includes('/bkt/up?') ? 'PUT' : 'GET',
        rawPath: url.slice(pathStart, q),
        rawQuery: url.slice(q + 1),
        headers: { host: `127.0.0.1:${server.port}` },
      };
      const ctx = authenticate(req, lookup, opts());
      expect(ctx.method, url).toBe('sigv2-query');
      expect(ctx.expiresAt!.getTime()).toBeGreaterThan(Date.now());
      try {
        authenticate(req, lookup, opts({ now: new Date(Date.now() + 700_000) }));
        expect.unreachable();
      } catch (e) {
        expect((e as S3Error).code).toBe('AccessDenied');
        expect((e as S3Error).message).toBe('Request has expired');
      }
      expect(s3ErrorCode(() => authenticate({ ...req, method: 'DELETE' }, lookup, opts()))).toBe(
        'SignatureDoesNotMatch',
      );
    }
  });
});

describe('SigV2 virtual-hosted requests signed by botocore', () => {
  it('rebuilds /<bucket><path> as the canonical resource', async () => {
    const script = fileURLToPath(new URL('../testing/botocore_sigv2_vhost.py', import.meta.url));
    const cases = [
      ['GET', 'bkt', '/', 'list-type=2&prefix=a'],
      ['PUT', 'bkt', '/a%20b/c%2Bd', ''],
      ['GET', 'bkt', '/key', 'acl'],
      ['POST', 'my.bucket', '/mp', 'uploads'],
      ['PUT', 'bkt', '/mp', 'partNumber=2&uploadId=abc'],
    ];
    const { stdout } = await promisify(execFile)('python3', [script, AKID, SECRET, JSON.stringify(cases)], {
      timeout: 60_000,
    });
    const signed = JSON.parse(stdout) as (AuthRequest & { bucket: string })[];
    expect(signed).toHaveLength(cases.length);
    for (const r of signed) {
      const req: AuthRequest = {
        method: r.method,
        rawPath: r.rawPath,
        rawQuery: r.rawQuery,
        headers: r.headers,
        virtualHostBucket: r.bucket,
      };
      const ctx = authenticate(req, lookup, opts());
      expect(ctx.method, `${r.method} ${r.rawPath}?${r.rawQuery}`).toBe('sigv2-header');
      // Without the bucket the resource differs, so the signature must not verify.
      const { virtualHostBucket: _b, ...pathStyle } = req;
      expect(s3ErrorCode(() => authenticate(pathStyle, lookup, opts()))).toBe('SignatureDoesNotMatch');
    }
  });
});
