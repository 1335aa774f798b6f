// A bucket's own CORS configuration: Put/Get/DeleteBucketCors. Rules are validated when put
// (s3-protocol parseCorsConfiguration), kept in the bucket record, and answer that bucket's
// browser requests from then on (cors.ts). A bucket without rules is served by the gateway-wide
// policy (BLOBCACHE_CORS_ORIGINS), which GetBucketCors then reports as the bucket's configuration.
import {
  corsConfigurationXml,
  el,
  parseCorsConfiguration,
  S3Error,
  type XmlElement,
} from '@blobcache/s3-protocol';
import {
  type BucketCorsRules,
  CORS_ALLOWED_METHODS,
  CORS_EXPOSE_HEADERS,
  PREFLIGHT_MAX_AGE_SEC,
} from '../cors.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { BucketContext } from './context.ts';
import { MAX_CONFIG_BODY_BYTES, readVerifiedSmallBody } from './payload.ts';
import { parseRequestTarget } from './request-target.ts';
import { clearBucketSetting, requireBucket, setBucketSettings } from './require-bucket.ts';
import { emptyResponse, xmlResponse } from './responses.ts';
import type { S3Route } from './route.ts';

/** The gateway-wide CORS policy (cors.ts) as a CORS configuration; undefined when it is off. */
function gatewayConfiguration(ctx: BucketContext): XmlElement | undefined {
  const origins = ctx.config.corsOrigins;
  if (origins !== '*' && origins.length === 0) return undefined;
  return el('CORSConfiguration', [
    el('CORSRule', [
      ...(origins === '*' ? ['*'] : origins).map((o) => el('AllowedOrigin', o)),
      ...[...CORS_ALLOWED_METHODS].map((m) => el('AllowedMethod', m)),
      el('AllowedHeader', '*'),
      ...CORS_EXPOSE_HEADERS.map((h) => el('ExposeHeader', h)),
      el('MaxAgeSeconds', PREFLIGHT_MAX_AGE_SEC),
    ]),
  ]);
}

async function getBucketCors(ctx: BucketContext): Promise<Response> {
  const record = await requireBucket(ctx);
  const doc = record.cors ? corsConfigurationXml(record.cors) : gatewayConfiguration(ctx);
  if (doc === undefined)
    throw new S3Error('NoSuchCORSConfiguration', undefined, { extra: { BucketName: ctx.bucket } });
  return xmlResponse(doc);
}

async function putBucketCors(ctx: BucketContext): Promise<Response> {
  await requireBucket(ctx);
  const body = await readVerifiedSmallBody(ctx, MAX_CONFIG_BODY_BYTES, { requireIntegrityHeader: true });
  const cors = parseCorsConfiguration(body);
  await setBucketSettings(ctx, { cors });
  return emptyResponse(200);
}

async function deleteBucketCors(ctx: BucketContext): Promise<Response> {
  await clearBucketSetting(ctx, 'cors');
  return emptyResponse(204);
}

export const bucketCorsRoutes: S3Route[] = [
  { operation: 'GetBucketCors', method: 'GET', level: 'bucket', param: 'cors', handle: getBucketCors },
  { operation: 'PutBucketCors', method: 'PUT', level: 'bucket', param: 'cors', handle: putBucketCors },
  {
    operation: 'DeleteBucketCors',
    method: 'DELETE',
    level: 'bucket',
    param: 'cors',
    handle: deleteBucketCors,
  },
];

/**
 * The rules of the bucket a browser request addresses (path-style or virtual-hosted), read from
 * the in-memory bucket records: CORS is decided before routing, for every response.
 */
export function bucketCorsRules(store: ObjectStore, domain: string): BucketCorsRules {
  return (req) => {
    let bucket: string | undefined;
    try {
      bucket = parseRequestTarget(req.url ?? '/', req.headers.host, domain).bucket;
    } catch {
      return undefined; // a target the S3 handler will refuse: the gateway-wide policy answers
    }
    return bucket === undefined ? undefined : store.cachedBucket(bucket)?.cors;
  };
}
