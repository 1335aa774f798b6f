// Every S3 route the gateway serves, by operation family. To add a family, write `s3/<family>.ts`
// exporting an `S3Route[]` and list it here; route.ts picks the most specific match.
import { aclRoutes } from './acl.ts';
import { bucketConfigRoutes } from './bucket-config.ts';
import { bucketCorsRoutes } from './bucket-cors.ts';
import { bucketLifecycleRoutes } from './bucket-lifecycle.ts';
import { bucketPolicyRoutes } from './bucket-policy.ts';
import { bucketRoutes } from './buckets.ts';
import type { Headers, S3Context } from './context.ts';
import { copyRoutes } from './copy.ts';
import { copyPartRoutes } from './copy-part.ts';
import { bucketEncryptionRoutes } from './encryption.ts';
import { listRoutes } from './list.ts';
import { multipartRoutes } from './multipart.ts';
import { listUploadsRoutes } from './multipart-list.ts';
import { partReadRoutes } from './multipart-read.ts';
import { objectAttributesRoutes } from './object-attributes.ts';
import { deleteObjectRoutes } from './objects-delete.ts';
import { putObjectRoutes } from './objects-put.ts';
import { readObjectRoutes } from './objects-read.ts';
import { postObjectRoutes } from './post-object.ts';
import { publicAccessRoutes } from './public-access.ts';
import type { RequestTarget } from './request-target.ts';
import { levelOf, matchRoute, type S3Route } from './route.ts';
import { taggingRoutes } from './tagging.ts';

export const S3_ROUTES: readonly S3Route[] = [
  ...bucketRoutes,
  ...listRoutes,
  ...putObjectRoutes,
  ...readObjectRoutes,
  ...deleteObjectRoutes,
  ...multipartRoutes,
  ...listUploadsRoutes,
  ...partReadRoutes,
  ...copyRoutes,
  ...copyPartRoutes,
  ...taggingRoutes,
  ...aclRoutes,
  ...bucketConfigRoutes,
  ...bucketPolicyRoutes,
  ...bucketCorsRoutes,
  ...bucketLifecycleRoutes,
  ...publicAccessRoutes,
  ...bucketEncryptionRoutes,
  ...objectAttributesRoutes,
  ...postObjectRoutes,
];

/** The operation a request names, from its method, target and headers alone; undefined if none. */
export function operationAsked(method: string, target: RequestTarget, headers: Headers): string | undefined {
  try {
    // Routing reads only the method, the target and the headers (never auth or the store).
    const ctx = { method, target, headers } as unknown as S3Context;
    return matchRoute(S3_ROUTES, ctx, levelOf(target.bucket, target.key)).operation;
  } catch {
    return undefined;
  }
}
