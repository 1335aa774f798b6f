// The gateway's S3 client for the upstream, built from the gateway config.
// Invariants:
// - Every upstream request is bounded: connection and response/idle timeouts and a fixed number
//   of attempts come from the config; nothing waits forever on a dead upstream.
// - Requests carry no flexible checksum the upstream did not ask for (`WHEN_REQUIRED`): the
//   gateway already verified the client's payload itself, and trailing aws-chunked checksums are
//   not understood by every S3-compatible server. Upload bodies are always of known length.
import { S3Client } from '@aws-sdk/client-s3';
import type { UpstreamConfig } from './config-fields.ts';

export type UpstreamClientOptions = Pick<
  UpstreamConfig,
  | 'upstreamEndpoint'
  | 'upstreamRegion'
  | 'upstreamAccessKeyId'
  | 'upstreamSecretAccessKey'
  | 'upstreamForcePathStyle'
  | 'upstreamTimeoutMs'
  | 'upstreamConnectTimeoutMs'
  | 'upstreamMaxAttempts'
>;

/** Sockets kept per upstream: enough for parallel fills without unbounded fan-out. */
export const UPSTREAM_MAX_SOCKETS = 64;

export function createUpstreamClient(o: UpstreamClientOptions): S3Client {
  if (o.upstreamEndpoint === undefined) throw new Error('no upstream endpoint configured');
  if ((o.upstreamAccessKeyId === undefined) !== (o.upstreamSecretAccessKey === undefined)) {
    throw new Error(
      'set both BLOBCACHE_UPSTREAM_ACCESS_KEY_ID and BLOBCACHE_UPSTREAM_SECRET_ACCESS_KEY, or neither (AWS credential chain)',
    );
  }
  return new S3Client({
    endpoint: o.upstreamEndpoint,
    region: o.upstreamRegion,
    forcePathStyle: o.upstreamForcePathStyle,
    maxAttempts: o.upstreamMaxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(o.upstreamAccessKeyId !== undefined && o.upstreamSecretAccessKey !== undefined
      ? {
          credentials: { accessKeyId: o.upstreamAccessKeyId, secretAccessKey: o.upstreamSecretAccessKey },
        }
      : {}),
    requestHandler: {
      connectionTimeout: o.upstreamConnectTimeoutMs,
      requestTimeout: o.upstreamTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets: UPSTREAM_MAX_SOCKETS },
      httpsAgent: { keepAlive: true, maxSockets: UPSTREAM_MAX_SOCKETS },
    },
  });
}
