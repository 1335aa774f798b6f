// The S3 route table's shape and matcher. S3 operations are told apart by method, by whether the
// request names the service, a bucket or an object, by query parameters ("subresources") and, for
// a few, by headers (CopyObject: x-amz-copy-source). A module per operation family exports its
// routes; operations.ts lists the modules.
import { S3Error } from '@blobcache/s3-protocol';
import type { S3Context } from './context.ts';

export type Level = 'service' | 'bucket' | 'object';
export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export type S3Route = {
  /** The S3 operation name, logged per request (e.g. `PutObject`). */
  operation: string;
  method: Method;
  level: Level;
  /**
   * Query parameter(s) that must all be present (`uploads`, `delete`, `location`, or e.g.
   * `['partNumber', 'uploadId']` for UploadPart); the route claims them as subresources.
   */
  param?: string | readonly string[];
  /** An extra condition, e.g. a header being present. */
  when?: (ctx: S3Context) => boolean;
  // biome-ignore lint/suspicious/noExplicitAny: handlers narrow the context (BucketContext/ObjectContext) by level
  handle: (ctx: any) => Promise<Response>;
};

/**
 * Query parameters that select an S3 subresource or operation. A request carrying one that no
 * route claims is an operation we do not implement (501), never silently a plain GET/PUT.
 */
export const SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadata-table',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
]);

function paramsOf(r: S3Route): readonly string[] {
  if (r.param === undefined) return [];
  return typeof r.param === 'string' ? [r.param] : r.param;
}

type Candidate = { route: S3Route; params: readonly string[] };

// The routes of one (level, method), with their parameter lists, per route table: matching scans
// a handful of candidates instead of every route, and builds no arrays per request. Bounded: node's
// HTTP parser accepts only its fixed list of methods, and there are three levels.
const candidatesByTable = new WeakMap<readonly S3Route[], Map<string, readonly Candidate[]>>();

function candidatesFor(routes: readonly S3Route[], level: Level, method: string): readonly Candidate[] {
  let byKey = candidatesByTable.get(routes);
  if (byKey === undefined) {
    byKey = new Map();
    candidatesByTable.set(routes, byKey);
  }
  const key = `${level} ${method}`;
  let list = byKey.get(key);
  if (list === undefined) {
    list = routes
      .filter((r) => r.level === level && r.method === method)
      .map((route) => ({ route, params: paramsOf(route) }));
    byKey.set(key, list);
  }
  return list;
}

export function levelOf(bucket: string | undefined, key: string | undefined): Level {
  if (bucket === undefined) return 'service';
  return key === undefined ? 'bucket' : 'object';
}

/** The most specific route for the request, or an S3Error saying why there is none. */
export function matchRoute(routes: readonly S3Route[], ctx: S3Context, level: Level): S3Route {
  const query = ctx.target.query;
  const candidates = candidatesFor(routes, level, ctx.method);
  let best: Candidate | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const params = c.params;
    let all = true;
    for (let i = 0; i < params.length; i++) {
      if (!query.has(params[i]!)) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    const r = c.route;
    if (r.when && !r.when(ctx)) continue;
    const score = params.length * 2 + (r.when ? 1 : 0);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  const claimed = best ? best.params : [];
  for (const p of query.keys()) {
    if (SUBRESOURCES.has(p) && !claimed.includes(p)) {
      throw new S3Error('NotImplemented', `blobcache does not implement ${ctx.method} with ?${p}`);
    }
  }
  if (!best) {
    if (candidates.length > 0)
      throw new S3Error('NotImplemented', `blobcache does not implement this ${ctx.method} request`);
    throw new S3Error('MethodNotAllowed', undefined, {
      extra: { Method: ctx.method, ResourceType: level.toUpperCase() },
    });
  }
  return best.route;
}
