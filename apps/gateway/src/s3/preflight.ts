// The `Expect: 100-continue` gate: decides from the request line and headers alone whether the
// client may send its body. Checks what would certainly fail the request: authentication, and for
// object writes the bucket's existence. Everything else is checked again by the handler.
import type { IncomingMessage } from 'node:http';
import { S3Error, toS3Error } from '@blobcache/s3-protocol';
import type { AppDeps } from '../app.ts';
import type { RequestState } from '../observability/request-state.ts';
import type { ContinueDecision } from '../server.ts';
import { authenticateRequest } from './authenticate.ts';
import { authorize } from './authorize.ts';
import { checkCapacity } from './capacity.ts';
import { flattenHeaders } from './context.ts';
import { operationAsked } from './operations.ts';
import { isPostObjectForm } from './post-object.ts';
import { parseRequestTarget, type RequestTarget } from './request-target.ts';
import { errorParts } from './responses.ts';

export async function preflight(
  deps: Pick<AppDeps, 'config' | 'store' | 'authenticator' | 'logger' | 'upstream'>,
  req: IncomingMessage,
  state: RequestState,
): Promise<ContinueDecision> {
  const method = (req.method ?? 'GET').toUpperCase();
  let target: RequestTarget | undefined;
  try {
    const headers = flattenHeaders(req);
    target = parseRequestTarget(req.url ?? '/', headers.host, deps.config.domain);
    if (target.bucket !== undefined) state.bucket = target.bucket;
    if (target.key !== undefined) state.key = target.key;
    // A mapped bucket (read-through cache) has no local record and no local budget: upstream decides.
    const mapped = deps.upstream?.maps(target.bucket) === true;
    // A POST Object form is authenticated by the policy in its body (post-object.ts).
    if (!isPostObjectForm(method, target, headers)) {
      const auth = authenticateRequest(deps.authenticator, method, target, headers, true);
      // The bucket policy's verdict, before the body is sent (the handler runs it again).
      const operation = operationAsked(method, target, headers);
      if (operation !== undefined)
        authorize(deps.store, { method, target, headers, auth, req }, operation, mapped);
    }
    if (
      !mapped &&
      target.bucket !== undefined &&
      target.key !== undefined &&
      (method === 'PUT' || method === 'POST')
    ) {
      if (!(await deps.store.getBucket(target.bucket))) {
        throw new S3Error('NoSuchBucket', undefined, { extra: { BucketName: target.bucket } });
      }
      const announced = headers['x-amz-decoded-content-length'] ?? headers['content-length'];
      if (announced !== undefined && /^\d+$/.test(announced.trim()))
        checkCapacity(deps, Number(announced.trim()));
    }
    return { ok: true };
  } catch (err) {
    const s3err = toS3Error(err);
    if (s3err.code === 'InternalError')
      deps.logger.error({ err, requestId: state.requestId }, 'preflight failed');
    return { ok: false, ...errorParts(s3err, state, method, target?.rawPath) };
  }
}
