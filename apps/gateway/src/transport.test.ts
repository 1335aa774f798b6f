// Transport-level behaviour driven with raw node:http: Expect: 100-continue, chunked uploads.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rawRequest,
  s3Client,
  startGatewayWithClient,
  startTestGateway,
  stopGatewayWithClient,
  type TestGateway,
} from './testing/harness.ts';

type ContinueOutcome = { continued: boolean; status: number; body: string };

/** Sends headers with Expect: 100-continue and the body only if the server says 100. */
function putWithExpect(port: number, path: string, body: string): Promise<ContinueOutcome> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path,
      headers: { expect: '100-continue', 'content-length': Buffer.byteLength(body) },
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ continued, status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }),
      );
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('transport', () => {
  let gw: TestGateway;
  let s3: S3Client;
  beforeAll(async () => {
    ({ gw, s3 } = await startGatewayWithClient({ bucket: 'wire' }));
  });
  afterAll(() => stopGatewayWithClient(gw, s3));

  const presignedPut = async (Bucket: string, Key: string) => {
    const u = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key }), { expiresIn: 60 }));
    return u.pathname + u.search;
  };

  it('Expect: 100-continue with bad auth gets 403 instead of 100 (body never sent)', async () => {
    const out = await putWithExpect(gw.port, '/wire/unauth', 'secret body');
    expect(out.continued).toBe(false);
    expect(out.status).toBe(403);
    expect(out.body).toContain('<Code>AccessDenied</Code>');
  });

  it('Expect: 100-continue to a missing bucket gets 404 NoSuchBucket instead of 100', async () => {
    const out = await putWithExpect(gw.port, await presignedPut('no-such-bucket', 'k'), 'x');
    expect(out.continued).toBe(false);
    expect(out.status).toBe(404);
    expect(out.body).toContain('<Code>NoSuchBucket</Code>');
  });

  it('Expect: 100-continue on a valid PUT continues and stores the body', async () => {
    const out = await putWithExpect(gw.port, await presignedPut('wire', 'continued'), 'after continue');
    expect(out).toMatchObject({ continued: true, status: 200 });
    const got = await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: 'continued' }));
    expect(await got.Body!.transformToString()).toBe('after continue');
  });

  it('accepts Transfer-Encoding: chunked uploads without Content-Length', async () => {
    const path = await presignedPut('wire', 'chunked');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gw.port, method: 'PUT', path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('part one, ');
      req.write(Buffer.alloc(200_000, 0x61));
      req.end(' end');
    });
    expect(status).toBe(200);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: 'chunked' }));
    const text = await got.Body!.transformToString();
    expect(text.length).toBe(10 + 200_000 + 4);
    expect(text.startsWith('part one, aaa')).toBe(true);
    expect(got.ContentType).toBe('binary/octet-stream'); // S3's default when none was sent
  });

  it('a store over its BLOBCACHE_MAX_BYTES budget refuses an announced write before its body (507 XMinioStorageFull)', async () => {
    const small = await startTestGateway({ maxBytes: '64MiB' });
    const client = s3Client(small);
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'tight' }));
      await client.send(new PutObjectCommand({ Bucket: 'tight', Key: 'fits', Body: 'fits' }));
      const u = new URL(
        await getSignedUrl(client, new PutObjectCommand({ Bucket: 'tight', Key: 'huge' }), { expiresIn: 60 }),
      );
      const out = await new Promise<ContinueOutcome>((resolve, reject) => {
        let continued = false;
        const req = httpRequest({
          host: '127.0.0.1',
          port: small.port,
          method: 'PUT',
          path: u.pathname + u.search,
          headers: { expect: '100-continue', 'content-length': 70 * 2 ** 20 },
        });
        req.on('continue', () => {
          continued = true;
          req.destroy();
        });
        req.on('response', (res: IncomingMessage) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () =>
            resolve({ continued, status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }),
          );
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      expect(out.continued).toBe(false);
      expect(out.status).toBe(507);
      expect(out.body).toContain('<Code>XMinioStorageFull</Code>');
      expect(out.body).toContain('BLOBCACHE_MAX_BYTES');
      // Through the SDK: the typed code, a 507, and no retries (the SDK does not retry a 507).
      const full = (await client
        .send(new PutObjectCommand({ Bucket: 'tight', Key: 'huge', Body: Buffer.alloc(70 * 2 ** 20) }))
        .catch((e: unknown) => e)) as {
        name?: string;
        $metadata?: { httpStatusCode?: number; attempts?: number };
      };
      expect(full.name).toBe('XMinioStorageFull');
      expect(full.$metadata?.httpStatusCode).toBe(507);
      expect(full.$metadata?.attempts).toBe(1);
    } finally {
      client.destroy();
      await small.stop();
    }
  });

  it('raw request paths are used as sent: dot segments, %2e%2e, // and + are parts of the key', async () => {
    const cases: Array<[string, string]> = [
      ['/wire/a/../b', 'a/../b'],
      ['/wire/%2e%2e/x', '../x'],
      ['/wire//lead', '/lead'],
      ['/wire/p+q%20r', 'p+q r'],
      ['/wire/dir/./f', 'dir/./f'],
    ];
    for (const [rawPath, key] of cases) {
      // Presign for the key, then send the request line exactly as given.
      const signed = new URL(
        await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'wire', Key: key }), { expiresIn: 60 }),
      );
      const res = await rawRequest(gw.port, {
        method: 'PUT',
        path: rawPath + signed.search,
        headers: { 'content-length': Buffer.byteLength(rawPath) },
        body: rawPath,
      });
      expect({ rawPath, status: res.status }).toEqual({ rawPath, status: res.status === 200 ? 200 : -1 });
      const got = await s3.send(new GetObjectCommand({ Bucket: 'wire', Key: key }));
      expect(await got.Body!.transformToString()).toBe(rawPath);
    }
  });

  it('an unknown Expect value is ignored, as S3 does (no 417)', async () => {
    const path = await presignedPut('wire', 'odd-expect');
    const res = await rawRequest(gw.port, {
      method: 'PUT',
      path,
      headers: { expect: '200', 'content-length': 3 },
      body: 'abc',
    });
    expect(res.status).toBe(200);
  });
});
