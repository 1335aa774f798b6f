// A bucket's own CORS rules, put with the SDK and answered to raw browser-style requests (Origin
// exactly as a page sends it): they replace the gateway-wide policy for that bucket only.
import {
  type CORSRule,
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, s3ErrorOf, useGatewayWithClient } from '../testing/harness.ts';

const Bucket = 'site';
const Other = 'plain';
const APP = 'https://app.example.com';
/** The site bucket's rules: an app origin pattern with headers, then HEAD from anywhere. */
const RULES: CORSRule[] = [
  {
    ID: 'app',
    AllowedOrigins: ['https://*.example.com'],
    AllowedMethods: ['GET', 'PUT'],
    AllowedHeaders: ['x-amz-*', 'content-type'],
    ExposeHeaders: ['ETag', 'x-amz-meta-owner'],
    MaxAgeSeconds: 1200,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['HEAD'] },
];

describe('per-bucket CORS (PutBucketCors)', () => {
  const suite = useGatewayWithClient({ bucket: Bucket, config: { corsOrigins: 'http://localhost:5173' } });
  const options = (headers: Record<string, string>, path = `/${Bucket}/index.html`) =>
    rawRequest(suite.gw.port, { method: 'OPTIONS', path, headers });

  beforeAll(async () => {
    // The gateway-wide policy allows one other origin only, so which one answered is visible.
    await suite.s3.send(new CreateBucketCommand({ Bucket: Other }));
    await suite.s3.send(new PutObjectCommand({ Bucket, Key: 'index.html', Body: '<h1>hi</h1>' }));
    await suite.s3.send(
      new PutBucketCorsCommand({
        Bucket,
        CORSConfiguration: {
          CORSRules: RULES,
        },
      }),
    );
  });

  it('reads back the rules as put; another bucket still reports the gateway-wide policy', async () => {
    const got = await suite.s3.send(new GetBucketCorsCommand({ Bucket }));
    expect(got.CORSRules).toEqual(RULES);
    const other = await suite.s3.send(new GetBucketCorsCommand({ Bucket: Other }));
    expect(other.CORSRules?.[0]?.AllowedOrigins).toEqual(['http://localhost:5173']);
  });

  it('answers preflights by the first matching rule, and 403 when none matches', async () => {
    const ok = await options({
      origin: APP,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type, X-Amz-Date',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(ok.headers['access-control-allow-methods']).toBe('GET, PUT');
    expect(ok.headers['access-control-allow-headers']).toBe('Content-Type, X-Amz-Date');
    expect(ok.headers['access-control-expose-headers']).toBe('ETag, x-amz-meta-owner');
    expect(ok.headers['access-control-max-age']).toBe('1200');

    const wildcard = await options({
      origin: 'http://anything.test',
      'access-control-request-method': 'HEAD',
    });
    expect(wildcard.status).toBe(200);
    expect(wildcard.headers['access-control-allow-origin']).toBe('*');
    expect(wildcard.headers['access-control-allow-credentials']).toBeUndefined();

    const refusedPreflights: Array<Record<string, string>> = [
      { origin: APP, 'access-control-request-method': 'DELETE' },
      {
        origin: APP,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
      { origin: 'https://example.com.evil.test', 'access-control-request-method': 'GET' },
      // The gateway-wide origin does not apply to a bucket with rules of its own.
      { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
    ];
    for (const headers of refusedPreflights) {
      const refused = await options(headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.body.toString()).toContain('<Code>AccessForbidden</Code>');
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
    // Another bucket keeps the gateway-wide policy.
    const other = await options(
      { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
      `/${Other}/x`,
    );
    expect(other.status).toBe(200);
    expect(
      (await options({ origin: APP, 'access-control-request-method': 'GET' }, `/${Other}/x`)).status,
    ).toBe(403);
  });

  it('decorates actual requests from a matching origin only', async () => {
    const url = new URL(await getSignedUrl(suite.s3, new GetObjectCommand({ Bucket, Key: 'index.html' })));
    const path = `${url.pathname}${url.search}`;
    const matched = await rawRequest(suite.gw.port, { method: 'GET', path, headers: { origin: APP } });
    expect(matched.status).toBe(200);
    expect(matched.headers['access-control-allow-origin']).toBe(APP);
    expect(matched.headers['access-control-expose-headers']).toBe('ETag, x-amz-meta-owner');
    const unmatched = await rawRequest(suite.gw.port, {
      method: 'GET',
      path,
      headers: { origin: 'http://localhost:5173' },
    });
    expect(unmatched.status).toBe(200);
    expect(unmatched.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses invalid rules as S3 does, and DeleteBucketCors returns the bucket to the gateway policy', async () => {
    const bad = await s3ErrorOf(
      suite.s3.send(
        new PutBucketCorsCommand({
          Bucket: Other,
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
        }),
      ),
    );
    expect(bad.name).toBe('InvalidRequest');
    expect(bad.$metadata.httpStatusCode).toBe(400);

    await suite.s3.send(new DeleteBucketCorsCommand({ Bucket }));
    const after = await options({ origin: 'http://localhost:5173', 'access-control-request-method': 'GET' });
    expect(after.status).toBe(200);
    expect(after.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect((await options({ origin: APP, 'access-control-request-method': 'GET' })).status).toBe(403);
  });
});
