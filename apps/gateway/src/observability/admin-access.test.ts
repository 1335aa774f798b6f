import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { S3Error } from '@blobcache/s3-protocol';
import { describe, expect, it } from 'vitest';
import { DEV_CREDENTIAL } from '../config.ts';
import { createAuthenticator } from '../s3/authenticate.ts';
import { startTestGateway } from '../testing/harness.ts';
import { isLoopbackPeer, requireLocalOrSigned } from './admin-access.ts';

const authenticator = createAuthenticator([DEV_CREDENTIAL], 'us-east-1');
const HOST = 'gateway.example:9000';

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBytes = (d: Bytes): string | Uint8Array =>
  typeof d === 'string'
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class NodeSha256 {
  readonly #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Bytes) {
    this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: Bytes): void {
    this.#h.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {}
}

/** The request line of a presigned GET of `path` (what a remote Prometheus would be given). */
async function presignedUrl(path: string, secretAccessKey = DEV_CREDENTIAL.secretAccessKey): Promise<string> {
  const presigner = new S3RequestPresigner({
    credentials: { accessKeyId: DEV_CREDENTIAL.accessKeyId, secretAccessKey },
    region: 'us-east-1',
    sha256: NodeSha256,
  });
  const signed = await presigner.presign(
    {
      method: 'GET',
      protocol: 'http:',
      hostname: 'gateway.example',
      port: 9000,
      path,
      query: {},
      headers: { host: HOST },
    },
    { expiresIn: 60 },
  );
  const qs = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${path}?${qs}`;
}

/** A request as node:http hands it over, from the peer `remoteAddress`. */
function requestFrom(remoteAddress: string, url: string): IncomingMessage {
  return {
    method: 'GET',
    url,
    headers: { host: HOST },
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
}

describe('metrics access policy', () => {
  it('knows loopback peers, IPv4-mapped ones included', () => {
    expect(isLoopbackPeer(requestFrom('127.0.0.1', '/'))).toBe(true);
    expect(isLoopbackPeer(requestFrom('127.3.2.1', '/'))).toBe(true);
    expect(isLoopbackPeer(requestFrom('::1', '/'))).toBe(true);
    expect(isLoopbackPeer(requestFrom('::ffff:127.0.0.1', '/'))).toBe(true);
    expect(isLoopbackPeer(requestFrom('192.0.2.7', '/'))).toBe(false);
    expect(isLoopbackPeer(requestFrom('::ffff:192.0.2.7', '/'))).toBe(false);
    expect(isLoopbackPeer(requestFrom('2001:db8::1', '/'))).toBe(false);
  });

  it('lets loopback peers in unsigned and makes every other peer sign', async () => {
    expect(() =>
      requireLocalOrSigned(authenticator, requestFrom('127.0.0.1', '/_blobcache/metrics')),
    ).not.toThrow();
    const unsigned = (() => {
      try {
        requireLocalOrSigned(authenticator, requestFrom('192.0.2.7', '/_blobcache/metrics'));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(unsigned).toBeInstanceOf(S3Error);
    expect((unsigned as S3Error).code).toBe('AccessDenied');

    const signed = await presignedUrl('/_blobcache/metrics');
    expect(() => requireLocalOrSigned(authenticator, requestFrom('192.0.2.7', signed))).not.toThrow();
    const wrongKey = await presignedUrl('/_blobcache/metrics', 'not-the-secret');
    expect(() => requireLocalOrSigned(authenticator, requestFrom('192.0.2.7', wrongKey))).toThrow(S3Error);
  });

  it('serves loopback scrapes unsigned over real HTTP, in store mode too', async () => {
    const gw = await startTestGateway();
    try {
      const res = await fetch(`${gw.url}/_blobcache/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE blobcache_requests_total counter');
    } finally {
      await gw.stop();
    }
  });
});
