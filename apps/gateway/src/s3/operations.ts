// Every S3 route the gateway serves, by operation family. To add a family, write `s3/<family>.ts`
// exporting an `S3Route[]` and list it here; route.ts picks the most specific match.
import { aclRoutes } from './acl.ts';
import { bucketConfigRoutes } from './bucket-config.ts';
import { bucketRoutes } from './buckets.ts';
import { copyRoutes } from './copy.ts';
import { copyPartRoutes } from './copy-part.ts';
import { listRoutes } from './list.ts';
import { multipartRoutes } from './multipart.ts';
import { listUploadsRoutes } from './multipart-list.ts';
import { partReadRoutes } from './multipart-read.ts';
import { objectAttributesRoutes } from './object-attributes.ts';
import { deleteObjectRoutes } from './objects-delete.ts';
import { putObjectRoutes } from './objects-put.ts';
import { readObjectRoutes } from './objects-read.ts';
import { postObjectRoutes } from './post-object.ts';
import type { S3Route } from './route.ts';
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
  ...objectAttributesRoutes,
  ...postObjectRoutes,
];
