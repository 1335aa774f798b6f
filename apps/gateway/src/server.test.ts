import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startTestGateway, type TestGateway } from './testing/harness.ts';

describe('server', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('listens on an ephemeral loopback port and reports health', async () => {
    expect(gw.port).toBeGreaterThan(0);
    expect(gw.url).toBe(`http://127.0.0.1:${gw.port}`);
    const res = await fetch(`${gw.url}/_blobcache/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
    expect(res.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
  });

  it('answers unauthenticated S3 requests with an XML error whose RequestId matches the header', async () => {
    const res = await rawRequest(gw.port, { method: 'GET', path: '/' });
    expect(res.status).toBe(403);
    const body = res.body.toString();
    expect(body).toContain('<Code>AccessDenied</Code>');
    expect(body).toContain(`<RequestId>${res.headers['x-amz-request-id']}</RequestId>`);
  });

  it('HEAD errors have no body', async () => {
    const res = await rawRequest(gw.port, { method: 'HEAD', path: '/bucket' });
    expect(res.status).toBe(403);
    expect(res.body.length).toBe(0);
    expect(res.headers['x-amz-request-id']).toBeDefined();
  });
});
