// CORS against a real gateway: unsigned preflights, headers on signed requests (errors included),
// and origin lists, over raw HTTP so the Origin header is exactly what a browser would send.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { parseCorsOrigins } from './cors.ts';
import { rawRequest, s3Client, startTestGateway, type TestGateway } from './testing/harness.ts';

const Bucket = 'cors';
const PAGE = 'http://localhost:5173';

/** Path and query of a presigned URL (what rawRequest sends on the request line). */
async function presignedPath(s3: S3Client, command: GetObjectCommand): Promise<string> {
  const url = new URL(await getSignedUrl(s3, command, { expiresIn: 300 }));
  return `${url.pathname}${url.search}`;
}

function preflight(gw: TestGateway, headers: Record<string, string>, path = `/${Bucket}/photo.jpg`) {
  return rawRequest(gw.port, { method: 'OPTIONS', path, headers });
}

/** A gateway holding `/cors/photo.jpg` for the enclosing suite. */
function gatewayWithPhoto(corsOrigins?: string): { gw: TestGateway; s3: S3Client } {
  const ctx = {} as { gw: TestGateway; s3: S3Client };
  beforeAll(async () => {
    ctx.gw = await startTestGateway(corsOrigins === undefined ? {} : { corsOrigins });
    ctx.s3 = s3Client(ctx.gw);
    await ctx.s3.send(new CreateBucketCommand({ Bucket }));
    await ctx.s3.send(new PutObjectCommand({ Bucket, Key: 'photo.jpg', Body: 'jpeg bytes' }));
  });
  afterAll(async () => {
    ctx.s3?.destroy();
    await ctx.gw?.stop();
  });
  return ctx;
}

describe('CORS, any origin (the default)', () => {
  const ctx = gatewayWithPhoto();

  it('answers an unsigned preflight with the methods and the headers the page asked for', async () => {
    const { gw } = ctx;
    const res = await preflight(gw, {
      origin: PAGE,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization,content-type,x-amz-date,x-amz-content-sha256',
    });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(PAGE);
    expect(res.headers['access-control-allow-methods']).toBe('GET, PUT, POST, DELETE, HEAD');
    expect(res.headers['access-control-allow-headers']).toBe(
      'authorization,content-type,x-amz-date,x-amz-content-sha256',
    );
    expect(res.headers['access-control-expose-headers']).toContain('etag');
    expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
    expect(res.headers['x-amz-request-id']).toBeTruthy();
    expect(res.body.length).toBe(0);
  });

  it('refuses preflights without Origin or Access-Control-Request-Method, and methods S3 has not', async () => {
    const { gw } = ctx;
    const noOrigin = await preflight(gw, { 'access-control-request-method': 'GET' });
    expect(noOrigin.status).toBe(400);
    expect(noOrigin.body.toString()).toContain('<Code>BadRequest</Code>');
    expect(noOrigin.body.toString()).toContain('Origin request header needed');
    const noMethod = await preflight(gw, { origin: PAGE });
    expect(noMethod.status).toBe(400);
    const patch = await preflight(gw, { origin: PAGE, 'access-control-request-method': 'PATCH' });
    expect(patch.status).toBe(403);
    expect(patch.body.toString()).toContain('<Code>AccessForbidden</Code>');
    expect(patch.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('puts the CORS headers on signed requests from a page, errors included, and only there', async () => {
    const { gw, s3 } = ctx;
    const path = await presignedPath(s3, new GetObjectCommand({ Bucket, Key: 'photo.jpg' }));
    const ok = await rawRequest(gw.port, { method: 'GET', path, headers: { origin: PAGE } });
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('jpeg bytes');
    expect(ok.headers['access-control-allow-origin']).toBe(PAGE);
    expect(ok.headers['access-control-expose-headers']).toContain('etag');
    expect(ok.headers.vary).toBe('Origin');

    const missing = await presignedPath(s3, new GetObjectCommand({ Bucket, Key: 'nope' }));
    const notFound = await rawRequest(gw.port, { method: 'GET', path: missing, headers: { origin: PAGE } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers['access-control-allow-origin']).toBe(PAGE);

    // Allowing an origin grants nothing: an unsigned request is still refused.
    const unsigned = await rawRequest(gw.port, {
      method: 'GET',
      path: `/${Bucket}/photo.jpg`,
      headers: { origin: PAGE },
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers['access-control-allow-origin']).toBe(PAGE);

    const noOrigin = await rawRequest(gw.port, { method: 'GET', path });
    expect(noOrigin.status).toBe(200);
    expect(noOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS, a list of origins', () => {
  const allowed = 'https://app.example.com';
  const ctx = gatewayWithPhoto(`${allowed}, http://localhost:3000`);

  it('answers listed origins only', async () => {
    const { gw, s3 } = ctx;
    const yes = await preflight(gw, { origin: allowed, 'access-control-request-method': 'GET' });
    expect(yes.status).toBe(200);
    expect(yes.headers['access-control-allow-origin']).toBe(allowed);
    const no = await preflight(gw, {
      origin: 'https://evil.example',
      'access-control-request-method': 'GET',
    });
    expect(no.status).toBe(403);
    expect(no.headers['access-control-allow-origin']).toBeUndefined();

    const path = await presignedPath(s3, new GetObjectCommand({ Bucket, Key: 'photo.jpg' }));
    const fromOther = await rawRequest(gw.port, {
      method: 'GET',
      path,
      headers: { origin: 'https://evil.example' },
    });
    expect(fromOther.status).toBe(200); // the signature decides access; the browser hides the body
    expect(fromOther.headers['access-control-allow-origin']).toBeUndefined();
    const fromListed = await rawRequest(gw.port, {
      method: 'GET',
      path,
      headers: { origin: 'http://localhost:3000' },
    });
    expect(fromListed.headers['access-control-allow-origin']).toBe('http://localhost:3000');
  });
});

describe('CORS settings', () => {
  it('parses *, none and origin lists, and refuses what can never match an Origin header', () => {
    expect(parseCorsOrigins('*')).toBe('*');
    expect(parseCorsOrigins('none')).toEqual([]);
    expect(parseCorsOrigins(' https://A.example , http://localhost:5173 ')).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
    expect(() => parseCorsOrigins('localhost:5173')).toThrow(/not an origin/);
    expect(() => parseCorsOrigins('https://app.example/path')).toThrow(/not an origin/);
    expect(loadConfig([], {}).corsOrigins).toBe('*');
    expect(loadConfig(['--cors-origins', 'none'], {}).corsOrigins).toEqual([]);
    expect(loadConfig([], { BLOBCACHE_CORS_ORIGINS: 'http://localhost:8080' }).corsOrigins).toEqual([
      'http://localhost:8080',
    ]);
    expect(() => loadConfig([], { BLOBCACHE_CORS_ORIGINS: 'ftp://x' })).toThrow(/BLOBCACHE_CORS_ORIGINS/);
  });

  it('a preflight with every origin refused', async () => {
    const gw = await startTestGateway({ corsOrigins: 'none' });
    try {
      const res = await preflight(gw, { origin: PAGE, 'access-control-request-method': 'GET' });
      expect(res.status).toBe(403);
      expect(res.body.toString()).toContain('<Code>AccessForbidden</Code>');
    } finally {
      await gw.stop();
    }
  });
});
