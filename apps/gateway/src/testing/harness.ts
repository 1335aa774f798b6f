// Test support: a real gateway on an ephemeral loopback port with a temp data dir (through the
// public startTestServer), and clients for it. Used only by *.test.ts files.
// BLOBCACHE_TEST_LOG=<pino level> makes every test gateway log to stdout, for debugging a suite.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import {
  type ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  type CreateMultipartUploadCommandInput,
  type GetObjectCommandOutput,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { signV4 } from '@blobcache/s3-protocol/testing';
import { Client as MinioClient } from 'minio';
import { afterAll, beforeAll } from 'vitest';
import { DEV_CREDENTIAL, type GatewayConfigInput } from '../config.ts';
import type { RunningGateway } from '../gateway.ts';
import type { Logger } from '../observability/logger.ts';
import { startTestServer, type TestLogLevel } from '../test-server.ts';

export type TestGateway = RunningGateway & { dataDir: string; stop(): Promise<void> };

/**
 * Starts a gateway; `stop()` removes the data dir unless one was passed in (`config.dataDir`).
 * Always 127.0.0.1 with the development pair: `host` and `credentials` in `config` are refused.
 */
export async function startTestGateway(
  config: Partial<GatewayConfigInput> = {},
  opts: { logger?: Logger } = {},
): Promise<TestGateway> {
  const { dataDir, port, region, maxBytes, host, credentials, logLevel, ...rest } = config;
  if (host !== undefined || credentials !== undefined || logLevel !== undefined) {
    throw new Error(
      'startTestGateway: host, credentials and logLevel are fixed (use startTestServer for those)',
    );
  }
  const server = await startTestServer({
    dataDir,
    port: port === undefined ? undefined : Number(port),
    region,
    maxBytes,
    logger: opts.logger,
    logLevel: (process.env.BLOBCACHE_TEST_LOG as TestLogLevel | undefined) ?? 'silent',
    config: rest,
  });
  return { ...server.gateway, dataDir: server.dataDir, stop: server.stop };
}

/**
 * A test gateway and an SDK client for it (path-style, development pair), with `bucket` created
 * when given: what most suites start in `beforeAll`. Stop both with stopGatewayWithClient.
 */
export async function startGatewayWithClient(
  opts: { bucket?: string; config?: Partial<GatewayConfigInput> } = {},
): Promise<{ gw: TestGateway; s3: S3Client }> {
  const gw = await startTestGateway(opts.config);
  const s3 = s3Client(gw);
  if (opts.bucket !== undefined) await s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
  return { gw, s3 };
}

/**
 * A suite's gateway and SDK client: started in `beforeAll` (with `bucket` created when given) and
 * stopped in `afterAll`. Read `gw` / `s3` inside tests (they are set once the suite starts).
 */
export function useGatewayWithClient(opts: { bucket?: string; config?: Partial<GatewayConfigInput> } = {}): {
  readonly gw: TestGateway;
  readonly s3: S3Client;
} {
  let started: { gw: TestGateway; s3: S3Client } | undefined;
  beforeAll(async () => {
    started = await startGatewayWithClient(opts);
  });
  afterAll(() => stopGatewayWithClient(started?.gw, started?.s3));
  const need = (): { gw: TestGateway; s3: S3Client } => {
    if (!started) throw new Error('useGatewayWithClient: read gw / s3 inside tests, after beforeAll');
    return started;
  };
  return {
    get gw() {
      return need().gw;
    },
    get s3() {
      return need().s3;
    },
  };
}

/** Stops what startGatewayWithClient started (either is undefined when its start failed). */
export async function stopGatewayWithClient(
  gw: TestGateway | undefined,
  s3: S3Client | undefined,
): Promise<void> {
  s3?.destroy();
  await gw?.stop();
}

export function s3Client(gw: { port: number }, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${gw.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: DEV_CREDENTIAL.accessKeyId, secretAccessKey: DEV_CREDENTIAL.secretAccessKey },
    forcePathStyle: true,
    ...extra,
  });
}

export type RawResponse = { status: number; headers: IncomingHttpHeaders; body: Buffer };

/** A raw HTTP/1.1 request with exactly this path (no URL normalisation). */
export function rawRequest(
  port: number,
  opts: { method: string; path: string; headers?: Record<string, string | number>; body?: Buffer | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The S3 error a call fails with (throws if it succeeds or fails otherwise). */
export async function s3ErrorOf(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** Deterministic pseudo-random bytes (an LCG), so a failing comparison is reproducible. */
export function pattern(size: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >>> 16;
  }
  return b;
}

/**
 * A raw request signed (SigV4, UNSIGNED-PAYLOAD, development pair) over the UTF-8 of its header
 * text and sent with those UTF-8 bytes on the wire, as a raw HTTP client with non-ASCII metadata
 * does. node:http writes header strings as latin1 (one char per byte) unless the first body chunk
 * is a string, so the body goes as a Buffer.
 */
export function signedUtf8Request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<RawResponse> {
  const signed = signV4({
    method,
    rawPath: path,
    rawQuery: '',
    headers: { host: `127.0.0.1:${port}`, ...headers },
    accessKeyId: DEV_CREDENTIAL.accessKeyId,
    secretAccessKey: DEV_CREDENTIAL.secretAccessKey,
    region: 'us-east-1',
    payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const wire: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers))
    wire[name] = Buffer.from(value, 'utf8').toString('latin1');
  return rawRequest(port, { method, path, headers: wire, body: Buffer.from(body) });
}

/** Every x-amz-checksum-* value the SDK parsed from a response. */
export function checksumsOf(r: Partial<GetObjectCommandOutput>): Record<string, string | undefined> {
  const { ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256, ChecksumType } = r;
  const all = {
    ChecksumCRC32,
    ChecksumCRC32C,
    ChecksumCRC64NVME,
    ChecksumSHA1,
    ChecksumSHA256,
    ChecksumType,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/**
 * Creates a multipart upload of `parts` (with the create's ChecksumAlgorithm on every part), completes
 * it, and returns each part's checksums as the SDK parsed them from UploadPart.
 */
export async function uploadMultipart(
  client: S3Client,
  Bucket: string,
  Key: string,
  parts: Buffer[],
  create: Partial<CreateMultipartUploadCommandInput> = {},
): Promise<Array<Record<string, string | undefined>>> {
  const algorithm = create.ChecksumAlgorithm as ChecksumAlgorithm | undefined;
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...create }));
  const done: CompletedPart[] = [];
  const sums: Array<Record<string, string | undefined>> = [];
  for (const [i, Body] of parts.entries()) {
    const r = await client.send(
      new UploadPartCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: i + 1,
        Body,
        ...(algorithm ? { ChecksumAlgorithm: algorithm } : {}),
      }),
    );
    sums.push(checksumsOf(r));
    done.push({ PartNumber: i + 1, ETag: r.ETag, ...checksumsOf(r) });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: { Parts: done },
      ...(create.ChecksumType ? { ChecksumType: create.ChecksumType } : {}),
    }),
  );
  return sums;
}

/** The minio JS client (an independent SigV4 signer) for a test gateway, development pair. */
export function minioClient(gw: { port: number }): MinioClient {
  return new MinioClient({
    endPoint: '127.0.0.1',
    port: gw.port,
    useSSL: false,
    accessKey: DEV_CREDENTIAL.accessKeyId,
    secretKey: DEV_CREDENTIAL.secretAccessKey,
    region: 'us-east-1',
  });
}
