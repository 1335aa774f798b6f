import { createHash } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Error } from '../errors.ts';
import { type CapturedRequest, type CaptureServer, startCaptureServer } from '../testing/capture-server.ts';
import { s3ErrorCode } from '../testing/error-code.ts';
import { authenticate } from './authenticate.ts';
import { canonicalQueryString, canonicalUriCandidates } from './canonical.ts';
import type { AuthOptions, AuthRequest } from './types.ts';

const AKID = 'AKIDEXAMPLE123';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const lookup = (id: string): string | undefined => (id === AKID ? SECRET : undefined);

const WEIRD_KEYS = [
  'plain.txt',
  'a/../b',
  './x',
  '/lead',
  'a//b',
  'trail/',
  'a+b',
  '100%',
  '50%25',
  'sp ace',
  'ünï/😀/日本',
  "!*'()[]{}",
  'q?x#y&z=1',
  'tilde~semi;colon:at@dollar$comma,',
  'back\\slash',
];

function toReq(c: CapturedRequest): AuthRequest {
  return { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery, headers: c.headers };
}

function opts(extra: Partial<AuthOptions> = {}): AuthOptions {
  return { region: 'us-east-1', now: new Date(), ...extra };
}

function reply(c: CapturedRequest): { status: number; headers?: Record<string, string>; body?: string } {
  const xml = { 'content-type': 'application/xml' };
  if (c.rawQuery.includes('uploads')) {
    return {
      status: 200,
      headers: xml,
      body: '<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>',
    };
  }
  if (c.rawQuery.includes('list-type'))
    return { status: 200, headers: xml, body: '<ListBucketResult></ListBucketResult>' };
  if (c.rawQuery.includes('delete'))
    return { status: 200, headers: xml, body: '<DeleteResult></DeleteResult>' };
  return { status: 200, headers: { etag: '"d41d8cd98f00b204e9800998ecf8427e"' } };
}

describe('canonical pieces', () => {
  it('encodes each path segment once and never normalises', () => {
    expect(canonicalUriCandidates('/bkt/a/../b')).toEqual(['/bkt/a/../b']);
    expect(canonicalUriCandidates('/bkt//x')).toEqual(['/bkt//x']);
    expect(canonicalUriCandidates('/bkt/a%20b%2Bc')).toEqual(['/bkt/a%20b%2Bc']);
    expect(canonicalUriCandidates('/bkt/a+b')).toEqual(['/bkt/a%2Bb', '/bkt/a+b']);
    expect(canonicalUriCandidates('/bkt/%7e%2a')).toEqual(['/bkt/~%2A', '/bkt/%7e%2a']);
    expect(canonicalUriCandidates('')).toEqual(['/']);
  });

  it('sorts and re-encodes the query, keeping empty values and x-id', () => {
    expect(canonicalQueryString('uploads=&x-id=CreateMultipartUpload')).toBe(
      'uploads=&x-id=CreateMultipartUpload',
    );
    expect(canonicalQueryString('uploads')).toBe('uploads=');
    expect(canonicalQueryString('prefix=a+b%2Fc&delimiter=%2F&list-type=2')).toBe(
      'delimiter=%2F&list-type=2&prefix=a%20b%2Fc',
    );
    expect(canonicalQueryString('b=2&a=2&a=1&X-Amz-Signature=x', 'X-Amz-Signature')).toBe('a=1&a=2&b=2');
    expect(canonicalQueryString('k=%7e%21')).toBe('k=~%21');
  });
});

describe('SigV4 with @aws-sdk/client-s3 (real requests captured on loopback)', () => {
  let server: CaptureServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startCaptureServer(reply);
    client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  async function capture(send: () => Promise<unknown>): Promise<CapturedRequest> {
    const before = server.requests.length;
    await send().catch(() => undefined);
    expect(server.requests.length).toBe(before + 1);
    return server.requests[before]!;
  }

  it('verifies PutObject for awkward keys (signed payload hash)', async () => {
    for (const key of WEIRD_KEYS) {
      const body = Buffer.from(`body of ${key}`);
      const c = await capture(() =>
        client.send(new PutObjectCommand({ Bucket: 'bkt', Key: key, Body: body })),
      );
      const ctx = authenticate(toReq(c), lookup, opts());
      expect(ctx.method, key).toBe('sigv4-header');
      expect(ctx.accessKeyId).toBe(AKID);
      expect(ctx.payloadMode).toBe('SIGNED');
      expect(ctx.declaredSha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(ctx.scope).toMatch(/^\d{8}\/us-east-1\/s3\/aws4_request$/);
      expect(ctx.signingKey).toBeInstanceOf(Buffer);
    }
  });

  it('verifies GET/HEAD/list/multipart/delete requests with query strings', async () => {
    const sends: (() => Promise<unknown>)[] = [
      () => client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'a b/ü', Range: 'bytes=0-1' })),
      () => client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: '//x' })),
      () =>
        client.send(
          new ListObjectsV2Command({
            Bucket: 'bkt',
            Prefix: 'a b+c/%',
            Delimiter: '/',
            StartAfter: 'ü',
            MaxKeys: 5,
          }),
        ),
      () =>
        client.send(
          new CreateMultipartUploadCommand({ Bucket: 'bkt', Key: 'a/../mp', ContentType: 'text/plain' }),
        ),
      () =>
        client.send(
          new DeleteObjectsCommand({
            Bucket: 'bkt',
            Delete: { Objects: [{ Key: 'x' }, { Key: 'y z' }], Quiet: true },
          }),
        ),
    ];
    for (const send of sends) {
      const c = await capture(send);
      const ctx = authenticate(toReq(c), lookup, opts());
      expect(ctx.method).toBe('sigv4-header');
    }
    const mp = server.requests.find((r) => r.rawQuery.includes('uploads'));
    expect(mp?.rawQuery).toContain('uploads=');
  });

  it('rejects tampering, wrong keys, skew, region and unsigned x-amz headers with S3 codes', async () => {
    const c = await capture(() => client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'k', Body: 'x' })));
    const good = toReq(c);
    expect(s3ErrorCode(() => authenticate(good, lookup, opts()))).toBe('ok');
    expect(s3ErrorCode(() => authenticate({ ...good, rawPath: '/bkt/K' }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(s3ErrorCode(() => authenticate({ ...good, rawQuery: 'x-id=GetObject' }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(s3ErrorCode(() => authenticate({ ...good, method: 'POST' }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(
      s3ErrorCode(() =>
        authenticate(
          { ...good, headers: { ...good.headers, 'x-amz-content-sha256': 'a'.repeat(64) } },
          lookup,
          opts(),
        ),
      ),
    ).toBe('SignatureDoesNotMatch');
    expect(s3ErrorCode(() => authenticate(good, () => 'wrong-secret', opts()))).toBe('SignatureDoesNotMatch');
    expect(s3ErrorCode(() => authenticate(good, () => undefined, opts()))).toBe('InvalidAccessKeyId');
    expect(
      s3ErrorCode(() => authenticate(good, lookup, opts({ now: new Date(Date.now() + 16 * 60_000) }))),
    ).toBe('RequestTimeTooSkewed');
    expect(
      s3ErrorCode(() => authenticate(good, lookup, opts({ now: new Date(Date.now() - 16 * 60_000) }))),
    ).toBe('RequestTimeTooSkewed');
    expect(s3ErrorCode(() => authenticate(good, lookup, opts({ region: 'eu-west-1' })))).toBe(
      'AuthorizationHeaderMalformed',
    );
    expect(s3ErrorCode(() => authenticate(good, lookup, opts({ region: undefined })))).toBe('ok');
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, headers: { ...good.headers, 'x-amz-meta-evil': '1' } }, lookup, opts()),
      ),
    ).toBe('AccessDenied');
    expect(
      s3ErrorCode(() =>
        authenticate(
          { ...good, headers: { ...good.headers, 'x-amz-meta-evil': '1' } },
          lookup,
          opts({ requireSignedAmzHeaders: false }),
        ),
      ),
    ).toBe('ok');
    const { 'x-amz-content-sha256': _dropped, ...noSha } = good.headers;
    expect(s3ErrorCode(() => authenticate({ ...good, headers: noSha }, lookup, opts()))).toBe(
      'InvalidRequest',
    );
    expect(
      s3ErrorCode(() =>
        authenticate(
          { ...good, headers: { ...good.headers, 'x-amz-content-sha256': 'nope' } },
          lookup,
          opts(),
        ),
      ),
    ).toBe('InvalidArgument');
    expect(
      s3ErrorCode(() =>
        authenticate(
          { ...good, headers: { ...good.headers, authorization: 'AWS4-HMAC-SHA256 junk' } },
          lookup,
          opts(),
        ),
      ),
    ).toBe('AuthorizationHeaderMalformed');
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, headers: { ...good.headers, authorization: 'Bearer x' } }, lookup, opts()),
      ),
    ).toBe('InvalidArgument');
    expect(
      s3ErrorCode(() =>
        authenticate({ ...good, rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' }, lookup, opts()),
      ),
    ).toBe('InvalidArgument');
    const { authorization: _a, ...anon } = good.headers;
    expect(s3ErrorCode(() => authenticate({ ...good, headers: anon }, lookup, opts()))).toBe('AccessDenied');
    expect(authenticate({ ...good, headers: anon }, lookup, opts({ allowAnonymous: true })).method).toBe(
      'anonymous',
    );
  });

  it('reports the canonical request and string to sign on mismatch', async () => {
    const c = await capture(() => client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'k' })));
    try {
      authenticate(toReq(c), () => 'other', opts());
      expect.unreachable();
    } catch (e) {
      const err = e as S3Error;
      expect(err.code).toBe('SignatureDoesNotMatch');
      expect(err.extra?.CanonicalRequest).toContain('GET\n/bkt/k\nx-id=GetObject\n');
      expect(err.extra?.StringToSign).toMatch(/^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n/);
      expect(err.extra?.AWSAccessKeyId).toBe(AKID);
    }
  });
});

describe('SigV4 presigned URLs from @aws-sdk/s3-request-presigner', () => {
  let server: CaptureServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startCaptureServer();
    client = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
    });
  });
  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  async function fetchCaptured(url: string, init?: RequestInit): Promise<CapturedRequest> {
    const before = server.requests.length;
    const res = await fetch(url, init);
    await res.arrayBuffer();
    return server.requests[before]!;
  }

  it('verifies presigned GET and PUT for awkward keys, as fetch sends them', async () => {
    for (const key of WEIRD_KEYS) {
      const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bkt', Key: key }), {
        expiresIn: 600,
      });
      expect(getUrl).toContain('X-Amz-Content-Sha256=UNSIGNED-PAYLOAD');
      // Send the path raw: fetch/URL would collapse dot segments, exactly the hazard we guard against.
      const c = await captureRaw(getUrl, 'GET');
      const ctx = authenticate(toReq(c), lookup, opts());
      expect(ctx.method, key).toBe('sigv4-query');
      expect(ctx.payloadMode).toBe('UNSIGNED-PAYLOAD');
      expect(ctx.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    }
    const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'bkt', Key: 'up load' }), {
      expiresIn: 60,
    });
    const c = await fetchCaptured(putUrl, { method: 'PUT', body: 'hello' });
    expect(authenticate(toReq(c), lookup, opts()).method).toBe('sigv4-query');
  });

  async function captureRaw(url: string, method: string): Promise<CapturedRequest> {
    const { request } = await import('node:http');
    const u = url.slice(server.endpoint.length);
    const before = server.requests.length;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, method, path: u }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    return server.requests[before]!;
  }

  it('rejects expired, too long, tampered and not-yet-valid presigned URLs', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bkt', Key: 'k' }), {
      expiresIn: 60,
    });
    const c = await captureRaw(url, 'GET');
    const req = toReq(c);
    expect(s3ErrorCode(() => authenticate(req, lookup, opts()))).toBe('ok');
    try {
      authenticate(req, lookup, opts({ now: new Date(Date.now() + 120_000) }));
      expect.unreachable();
    } catch (e) {
      expect((e as S3Error).code).toBe('AccessDenied');
      expect((e as S3Error).message).toBe('Request has expired');
    }
    expect(
      s3ErrorCode(() => authenticate(req, lookup, opts({ now: new Date(Date.now() - 30 * 60_000) }))),
    ).toBe('AccessDenied');
    expect(s3ErrorCode(() => authenticate({ ...req, rawPath: '/bkt/other' }, lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(
      s3ErrorCode(() => authenticate({ ...req, rawQuery: `${req.rawQuery}&extra=1` }, lookup, opts())),
    ).toBe('SignatureDoesNotMatch');
    expect(
      s3ErrorCode(() =>
        authenticate(
          { ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801') },
          lookup,
          opts(),
        ),
      ),
    ).toBe('AuthorizationQueryParametersError');
    expect(
      s3ErrorCode(() =>
        authenticate({ ...req, rawQuery: req.rawQuery.replace(/X-Amz-Date=[^&]*&?/, '') }, lookup, opts()),
      ),
    ).toBe('AuthorizationQueryParametersError');
    expect(s3ErrorCode(() => authenticate(req, () => undefined, opts()))).toBe('InvalidAccessKeyId');
  });

  it('compares the signature in either case, and refuses any other 64-character text', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'bkt', Key: 'k' }));
    const req = toReq(await captureRaw(url, 'GET'));
    const sig = /X-Amz-Signature=([0-9a-f]{64})/.exec(req.rawQuery)![1]!;
    const withSig = (v: string): AuthRequest => ({
      ...req,
      rawQuery: req.rawQuery.replace(`X-Amz-Signature=${sig}`, `X-Amz-Signature=${v}`),
    });
    expect(s3ErrorCode(() => authenticate(withSig(sig.toUpperCase()), lookup, opts()))).toBe('ok');
    const flip = (i: number, ch: string): string => sig.slice(0, i) + ch + sig.slice(i + 1);
    for (const i of [0, 31, 63]) {
      const other = sig[i] === '0' ? '1' : '0';
      expect(s3ErrorCode(() => authenticate(withSig(flip(i, other)), lookup, opts()))).toBe(
        'SignatureDoesNotMatch',
      );
      // Non-hex characters: 'g' and the characters next to 'a'/'A' in ASCII.
      for (const bad of ['g', 'G', '@', '`'])
        expect(s3ErrorCode(() => authenticate(withSig(flip(i, bad)), lookup, opts()))).toBe(
          'SignatureDoesNotMatch',
        );
    }
    // A control character whose code differs from a digit's only in bit 0x20 (sent
    // percent-encoded): a compare that folds case by setting that bit would take it for the digit.
    const digitAt = [...sig].findIndex((ch) => ch >= '0' && ch <= '9');
    const control = `%${(sig.charCodeAt(digitAt) - 0x20).toString(16).padStart(2, '0')}`;
    expect(s3ErrorCode(() => authenticate(withSig(flip(digitAt, control)), lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(s3ErrorCode(() => authenticate(withSig(sig.slice(1)), lookup, opts()))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(s3ErrorCode(() => authenticate(withSig(`${sig}0`), lookup, opts()))).toBe('SignatureDoesNotMatch');
  });
});

describe('SigV4 from the minio client (an independent signer)', () => {
  let server: CaptureServer;
  let mc: Minio.Client;

  beforeAll(async () => {
    server = await startCaptureServer((c): { status: number; headers: Record<string, string> } =>
      c.method === 'HEAD'
        ? {
            status: 200,
            headers: { etag: '"x"', 'content-length': '0', 'last-modified': new Date().toUTCString() },
          }
        : { status: 200, headers: { etag: '"d41d8cd98f00b204e9800998ecf8427e"' } },
    );
    mc = new Minio.Client({
      endPoint: '127.0.0.1',
      port: server.port,
      useSSL: false,
      accessKey: AKID,
      secretKey: SECRET,
      region: 'us-east-1',
      pathStyle: true,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('verifies putObject and statObject for awkward keys', async () => {
    for (const key of WEIRD_KEYS.filter((k) => !k.startsWith('/') && !k.includes('//'))) {
      const before = server.requests.length;
      await mc.putObject('bkt', key, Buffer.from('minio body'));
      await mc.statObject('bkt', key).catch(() => undefined);
      const sent = server.requests.slice(before);
      expect(sent.length).toBeGreaterThanOrEqual(2);
      for (const c of sent) {
        const ctx = authenticate(toReq(c), lookup, opts());
        expect(ctx.method, `${c.method} ${key}`).toBe('sigv4-header');
      }
    }
  });

  it('verifies minio presigned GET URLs', async () => {
    for (const key of ['k', 'sp ace', 'ü+%', 'a/../b']) {
      const url = await mc.presignedGetObject('bkt', key, 300);
      const q = url.indexOf('?');
      const pathStart = url.indexOf('/', 'http://'.length);
      const req: AuthRequest = {
        method: 'GET',
        rawPath: url.slice(pathStart, q),
        rawQuery: url.slice(q + 1),
        headers: { host: `127.0.0.1:${server.port}` },
      };
      expect(authenticate(req, lookup, opts()).method, key).toBe('sigv4-query');
    }
  });
});

// The worked examples of the AWS documentation ("Signature Calculations for the Authorization
// Header: Transferring Payload in a Single Chunk" and "Authenticating Requests: Using Query
// Parameters"), with their published signatures.
describe('AWS documentation examples', () => {
  const docLookup = (id: string): string | undefined =>
    id === 'AKIAIOSFODNN7EXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined;
  const now = new Date(Date.UTC(2013, 4, 24, 0, 5, 0));

  it('GET Object with a Range header', () => {
    const ctx = authenticate(
      {
        method: 'GET',
        rawPath: '/test.txt',
        rawQuery: '',
        headers: {
          host: 'examplebucket.s3.amazonaws.com',
          range: 'bytes=0-9',
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          'x-amz-date': '20130524T000000Z',
          authorization:
            'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
        },
      },
      docLookup,
      { region: 'us-east-1', now },
    );
    expect(ctx.payloadMode).toBe('SIGNED');
  });

  it('presigned GET Object valid for 24 hours', () => {
    const rawQuery =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const req: AuthRequest = {
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery,
      headers: { host: 'examplebucket.s3.amazonaws.com' },
    };
    expect(authenticate(req, docLookup, { region: 'us-east-1', now }).method).toBe('sigv4-query');
    expect(
      s3ErrorCode(() =>
        authenticate(req, docLookup, { region: 'us-east-1', now: new Date(Date.UTC(2013, 4, 25, 0, 0, 1)) }),
      ),
    ).toBe('AccessDenied');
  });
});

// botocore (aws-cli v1 / boto3) with signature_version='s3v4': a third independent SigV4 signer.
describe('SigV4 from botocore (s3v4)', () => {
  let server: CaptureServer;
  let urls: string[];
  const BOTO_KEYS = ['plain', 'a/../b', 'sp ace', 'a+b', '100%', 'ünï/😀', "!*'()", '//lead'];

  beforeAll(async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { fileURLToPath } = await import('node:url');
    server = await startCaptureServer();
    const script = fileURLToPath(new URL('../testing/botocore_client.py', import.meta.url));
    const { stdout } = await promisify(execFile)(
      'python3',
      [script, server.endpoint, AKID, SECRET, JSON.stringify(BOTO_KEYS), 's3v4'],
      { timeout: 60_000 },
    );
    urls = JSON.parse(stdout) as string[];
  });
  afterAll(async () => {
    await server.close();
  });

  it('verifies every request botocore sent', () => {
    expect(server.requests.length).toBeGreaterThanOrEqual(BOTO_KEYS.length * 2 + 6);
    for (const c of server.requests) {
      expect(c.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
      const ctx = authenticate(toReq(c), lookup, opts());
      expect(ctx.method, `${c.method} ${c.rawUrl}`).toBe('sigv4-header');
    }
  });

  it('verifies botocore s3v4 presigned URLs', () => {
    for (const url of urls) {
      expect(url).toContain('X-Amz-Signature=');
      const q = url.indexOf('?');
      const pathStart = url.indexOf('/', 'http://'.length);
      const req: AuthRequest = {
        method: url.includes('/bkt/up?') ? 'PUT' : 'GET',
        rawPath: url.slice(pathStart, q),
        rawQuery: url.slice(q + 1),
        headers: { host: `127.0.0.1:${server.port}` },
      };
      expect(authenticate(req, lookup, opts()).method, url).toBe('sigv4-query');
    }
  });
});
