// The read-through cache as the gateway sees it: opened by startGateway when an upstream endpoint
// is configured, consulted by the app for every routed S3 operation.
// Invariants:
// - Every object or bucket operation on a mapped bucket is answered by an upstream-aware handler,
//   or 501 NotImplemented: never silently by the local store, whose copy is only a cache there.
// - Unmapped buckets, and store mode (no endpoint), are untouched.
// - The cache has its own engine (`<dataDir>/cache`, cache durability, SIEVE eviction under
//   BLOBCACHE_MAX_BYTES): evicting a cached copy never touches a durable client object.
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import {
  HeadBucketCommand,
  ListBucketsCommand,
  type ListBucketsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BlobEngine } from '@blobcache/engine';
import { el, optEl, S3Error } from '@blobcache/s3-protocol';
import type { Logger } from '../observability/logger.ts';
import { trackUpstreamCalls, UpstreamLiveness } from '../observability/upstream-liveness.ts';
import type { Authenticator } from '../s3/authenticate.ts';
import type { BucketContext, ObjectContext, S3Context } from '../s3/context.ts';
import { ownerElement } from '../s3/owner.ts';
import { emptyResponse, xmlResponse } from '../s3/responses.ts';
import type { EnginePort } from '../store/engine-port.ts';
import { ObjectStore } from '../store/object-store.ts';
import { ENGINE_READ_CACHE_BYTES, MAX_INLINE_HEAD_BYTES } from '../store/open-store.ts';
import { recoverIntents } from '../store/recovery.ts';
import { adminResponse } from './admin.ts';
import { parseBucketMap } from './bucket-map.ts';
import type { UpstreamConfig } from './config-fields.ts';
import { CacheCounters } from './counters.ts';
import { listObjectsV1Through, listObjectsV2Through } from './listing.ts';
import {
  abortMultipartThrough,
  completeMultipartThrough,
  copyObjectThrough,
  createMultipartThrough,
  listPartsThrough,
  listUploadsThrough,
  uploadPartCopyThrough,
  uploadPartThrough,
} from './multipart-through.ts';
import { getObjectThroughCache, headObjectThroughCache } from './object-reads.ts';
import { deleteObjectsThrough, deleteObjectThrough, putObjectThrough } from './object-writes.ts';
import { UpstreamCache } from './upstream-cache.ts';
import { createUpstreamClient } from './upstream-client.ts';
import { upstreamWriteError } from './upstream-errors.ts';

/** A handler for a routed S3 operation (the context carries bucket/key as the route's level implies). */
export type RoutedHandler = (ctx: ObjectContext & BucketContext) => Promise<Response>;

type Handler = (up: UpstreamCache, ctx: ObjectContext & BucketContext, ub: string) => Promise<Response>;

async function headBucketThrough(up: UpstreamCache, ctx: BucketContext, ub: string): Promise<Response> {
  up.counters.inc('upstreamRequests');
  try {
    await up.client.send(new HeadBucketCommand({ Bucket: ub }));
  } catch (err) {
    throw upstreamWriteError(up.endpoint, err);
  }
  return emptyResponse(200, { 'x-amz-bucket-region': ctx.config.region });
}

/** The gateway's region (clients sign for it), once the upstream confirmed the bucket exists. */
async function getBucketLocationThrough(
  up: UpstreamCache,
  ctx: BucketContext,
  ub: string,
): Promise<Response> {
  await headBucketThrough(up, ctx, ub);
  // S3 reports us-east-1 as an empty LocationConstraint.
  return xmlResponse(el('LocationConstraint', ctx.config.region === 'us-east-1' ? '' : ctx.config.region));
}

const MAX_BUCKETS_PER_PAGE = 10_000;

/**
 * ListBuckets when every bucket is mapped (`*`): the upstream's buckets (the local store has none
 * a client could reach), paged here with the same name-position tokens as store mode.
 */
async function listBucketsThrough(up: UpstreamCache, ctx: S3Context): Promise<Response> {
  const q = ctx.target.query;
  const prefix = q.get('prefix') ?? '';
  const maxText = q.get('max-buckets');
  const max = maxText === undefined ? MAX_BUCKETS_PER_PAGE : Number(maxText);
  if (maxText !== undefined && (!/^\d+$/.test(maxText) || max < 1 || max > MAX_BUCKETS_PER_PAGE)) {
    throw new S3Error('InvalidArgument', 'max-buckets must be an integer between 1 and 10000', {
      extra: { ArgumentName: 'max-buckets', ArgumentValue: maxText },
    });
  }
  const token = q.get('continuation-token');
  const after = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
  up.counters.inc('upstreamRequests');
  let out: ListBucketsCommandOutput;
  try {
    out = await up.client.send(new ListBucketsCommand({}));
  } catch (err) {
    throw upstreamWriteError(up.endpoint, err);
  }
  const all = (out.Buckets ?? [])
    .filter((b) => b.Name?.startsWith(prefix) && (after === undefined || b.Name > after))
    .sort((a, b) => ((a.Name ?? '') < (b.Name ?? '') ? -1 : 1));
  const page = all.slice(0, max);
  const last = page[page.length - 1];
  return xmlResponse(
    el('ListAllMyBucketsResult', [
      ownerElement(ctx.auth.accessKeyId),
      el(
        'Buckets',
        page.map((b) =>
          el('Bucket', [
            el('Name', b.Name ?? ''),
            el('CreationDate', b.CreationDate ?? new Date(0)),
            el('BucketRegion', ctx.config.region),
          ]),
        ),
      ),
      optEl(
        'ContinuationToken',
        all.length > page.length && last
          ? Buffer.from(last.Name ?? '', 'utf8').toString('base64url')
          : undefined,
      ),
      optEl('Prefix', q.get('prefix')),
    ]),
  );
}

/** Operations a mapped bucket supports, by the S3 operation name the route table logs. */
const HANDLERS: Readonly<Record<string, Handler>> = {
  GetObject: getObjectThroughCache,
  HeadObject: headObjectThroughCache,
  PutObject: putObjectThrough,
  DeleteObject: deleteObjectThrough,
  DeleteObjects: deleteObjectsThrough,
  ListObjectsV2: listObjectsV2Through,
  ListObjects: listObjectsV1Through,
  HeadBucket: headBucketThrough,
  GetBucketLocation: getBucketLocationThrough,
  CreateMultipartUpload: createMultipartThrough,
  UploadPart: uploadPartThrough,
  CompleteMultipartUpload: completeMultipartThrough,
  AbortMultipartUpload: abortMultipartThrough,
  ListParts: listPartsThrough,
  ListMultipartUploads: listUploadsThrough,
  CopyObject: copyObjectThrough,
  UploadPartCopy: uploadPartCopyThrough,
};

export type UpstreamLayer = {
  readonly cache: UpstreamCache;
  /** True when `bucket` is cached from the upstream (its objects never live in the local store). */
  maps(bucket: string | undefined): boolean;
  /**
   * The handler replacing `operation` on a mapped bucket (501 for operations the cache does not
   * carry through), or undefined for local buckets and service-level requests.
   */
  handlerFor(operation: string, bucket: string | undefined): RoutedHandler | undefined;
  /** Whether the upstream answers (readiness) and upstream call outcomes (metrics). */
  readonly liveness: UpstreamLiveness;
  /** `/_blobcache/purge`; undefined for any other path. */
  admin(req: IncomingMessage, authenticator: Authenticator): Promise<Response | undefined>;
  close(): Promise<void>;
};

export type OpenUpstreamOptions = {
  config: UpstreamConfig & { dataDir: string };
  logger: Logger;
  /** For tests: a client to use instead of one built from the config. */
  client?: S3Client;
};

const MiB = 1024 * 1024;

/**
 * Memtables are never evicted and shield the newest items from SIEVE, and a write burst fills up
 * to four of them: 1/32 of the budget each (the engine's own default under eviction), within
 * 64 KiB … 32 MiB. At 1/8 the Zipf hit ratio fell up to 0.04 below an exact SIEVE's.
 */
export function cacheMemtableBytes(maxBytes: number): number {
  if (maxBytes === 0) return 32 * MiB;
  return Math.min(32 * MiB, Math.max(64 * 1024, Math.floor(maxBytes / 32)));
}

/** Opens the cache layer, or returns undefined in store mode (no upstream endpoint). */
export async function openUpstreamLayer(o: OpenUpstreamOptions): Promise<UpstreamLayer | undefined> {
  const c = o.config;
  if (c.upstreamEndpoint === undefined) return undefined;
  const logger = o.logger.child({ component: 'upstream' });
  const buckets = parseBucketMap(c.upstreamBuckets);
  const client = o.client ?? createUpstreamClient(c);
  const liveness = new UpstreamLiveness({
    endpoint: c.upstreamEndpoint,
    // Any answer, even 403 from credentials scoped to one bucket, shows the upstream is there.
    probe: (signal) => client.send(new ListBucketsCommand({}), { abortSignal: signal }),
  });
  trackUpstreamCalls(client, liveness);
  const dir = join(c.dataDir, 'cache');
  await mkdir(dir, { recursive: true });
  const engine: EnginePort = await BlobEngine.open(dir, {
    durability: 'cache',
    maxBytes: c.maxBytes,
    onFull: 'evict',
    memtableBytes: cacheMemtableBytes(c.maxBytes),
    maxInlineValueBytes: MAX_INLINE_HEAD_BYTES,
    // Bounded like the store's: the engine default (up to 256 MiB) would be resident on top.
    readCacheBytes: ENGINE_READ_CACHE_BYTES,
    logger: logger.child({ component: 'cache-engine' }),
  });
  const store = new ObjectStore(engine, logger.child({ component: 'cache-store' }), MAX_INLINE_HEAD_BYTES);
  try {
    await recoverIntents(store, engine, logger);
  } catch (err) {
    await engine.close();
    throw err;
  }
  if (c.maxBytes === 0) logger.warn('BLOBCACHE_MAX_BYTES is 0: the upstream cache grows without bound');
  const cache = new UpstreamCache({
    endpoint: c.upstreamEndpoint,
    client,
    buckets,
    store,
    counters: new CacheCounters(),
    logger,
    cacheTtlMs: c.cacheTtlMs,
    negativeTtlMs: c.negativeTtlMs,
    listTtlMs: c.listTtlMs,
    // One object may use at most a quarter of the budget, so a fill cannot flush the whole cache.
    maxFillBytes: c.maxBytes > 0 ? Math.floor(c.maxBytes / 4) : 0,
  });
  logger.info(
    {
      endpoint: c.upstreamEndpoint,
      buckets: c.upstreamBuckets,
      cacheTtlMs: c.cacheTtlMs,
      maxBytes: c.maxBytes,
    },
    'read-through cache enabled',
  );
  return {
    cache,
    liveness,
    maps: (bucket) => bucket !== undefined && buckets.upstreamFor(bucket) !== undefined,
    handlerFor: (operation, bucket) => {
      if (bucket === undefined) {
        return operation === 'ListBuckets' && buckets.all
          ? (ctx) => listBucketsThrough(cache, ctx)
          : undefined;
      }
      const ub = buckets.upstreamFor(bucket);
      if (ub === undefined) return undefined;
      const h = HANDLERS[operation];
      if (!h) {
        return async () => {
          throw new S3Error(
            'NotImplemented',
            `${operation} is not supported on bucket ${bucket}: it is a read-through cache of upstream bucket ${ub}`,
          );
        };
      }
      return (ctx) => h(cache, ctx, ub);
    },
    admin: (req, authenticator) => adminResponse(cache, authenticator, req),
    close: async () => {
      await store.close();
      if (!o.client) client.destroy();
    },
  };
}
