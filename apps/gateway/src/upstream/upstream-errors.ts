// What an upstream failure means for our client.
// Invariant: an upstream problem (unreachable, timeout, 5xx, throttling) is never reported as the
// client's fault: it becomes 503 ServiceUnavailable naming the upstream and the problem, unless a
// cached copy can be served instead. Upstream 4xx answers keep their S3 meaning.
import { ERROR_CATALOGUE, S3Error, type S3ErrorCode } from '@blobcache/s3-protocol';

export type UpstreamOutcome =
  | { kind: 'notModified' }
  | { kind: 'missing'; code: 'NoSuchKey' | 'NoSuchBucket' }
  | { kind: 'rejected'; error: S3Error }
  | { kind: 'unavailable'; detail: string };

type SdkError = Error & {
  $metadata?: { httpStatusCode?: number };
  Code?: string;
  code?: string;
  $fault?: 'client' | 'server';
};

function statusOf(err: SdkError): number | undefined {
  return err.$metadata?.httpStatusCode;
}

/** Classifies an error thrown by an upstream S3Client call. */
export function classifyUpstreamError(err: unknown): UpstreamOutcome {
  const e = (err instanceof Error ? err : new Error(String(err))) as SdkError;
  const status = statusOf(e);
  const code = e.Code ?? e.name;
  if (status === 304) return { kind: 'notModified' };
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket') {
    return { kind: 'missing', code: code === 'NoSuchBucket' ? 'NoSuchBucket' : 'NoSuchKey' };
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 408) {
    const known = code in ERROR_CATALOGUE ? (code as S3ErrorCode) : undefined;
    if (known) return { kind: 'rejected', error: new S3Error(known, `upstream: ${e.message}`) };
    if (status === 412)
      return { kind: 'rejected', error: new S3Error('PreconditionFailed', `upstream: ${e.message}`) };
    if (status === 403)
      return { kind: 'rejected', error: new S3Error('AccessDenied', `upstream refused: ${e.message}`) };
    return {
      kind: 'rejected',
      error: new S3Error('InvalidRequest', `upstream answered ${status} ${code}: ${e.message}`),
    };
  }
  const net = e.code ?? (e.cause as { code?: string } | undefined)?.code;
  const what =
    status !== undefined
      ? `answered ${status} ${code}`
      : net !== undefined
        ? `is unreachable (${net})`
        : e.name === 'TimeoutError' || /timeout/i.test(e.message)
          ? `timed out (${e.message})`
          : `failed (${e.name}: ${e.message})`;
  return { kind: 'unavailable', detail: what };
}

/** The 503 a client gets when the upstream failed and no cached copy can stand in. */
export function upstreamUnavailable(
  endpoint: string,
  detail: string,
  extraHeaders?: Record<string, string>,
): S3Error {
  return new S3Error('ServiceUnavailable', `blobcache upstream ${endpoint} ${detail}`, {
    ...(extraHeaders ? { headers: extraHeaders } : {}),
  });
}

/** Throws the S3Error a write-through client sees for an upstream failure. */
export function upstreamWriteError(endpoint: string, err: unknown, key?: string): S3Error {
  const o = classifyUpstreamError(err);
  switch (o.kind) {
    case 'missing':
      return new S3Error(o.code, undefined, { extra: key === undefined ? {} : { Key: key } });
    case 'rejected':
      return o.error;
    case 'notModified':
      return new S3Error('NotModified');
    case 'unavailable':
      return upstreamUnavailable(endpoint, o.detail);
  }
}
