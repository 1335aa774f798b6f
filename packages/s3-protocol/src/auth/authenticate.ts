// Choosing and running the authentication mechanism for a request. Invariant: exactly one
// mechanism is used per request (mixing them is InvalidArgument, as S3 answers), and only
// request-line and header data are read, so this runs before the body arrives (in node:http's
// `checkContinue`, before answering `100 Continue`).

import { S3Error } from '../errors.ts';
import { parseQueryParams, type QueryParam } from '../query.ts';
import { verifySigV2Header, verifySigV2Query } from './sigv2.ts';
import { payloadModeOf, SIGV4_ALGORITHM, verifySigV4Header, verifySigV4Query } from './sigv4.ts';
import type { AuthContext, AuthOptions, AuthRequest, SecretLookup } from './types.ts';

/** Which mechanism a request uses, from headers and query only; undefined when it carries no credentials. */
export function detectAuthMethod(
  req: AuthRequest,
): 'sigv4-header' | 'sigv4-query' | 'sigv2-header' | 'sigv2-query' | undefined {
  return detect(req, req.rawQuery === '' ? [] : parseQueryParams(req.rawQuery));
}

function detect(
  req: AuthRequest,
  params: readonly QueryParam[],
): 'sigv4-header' | 'sigv4-query' | 'sigv2-header' | 'sigv2-query' | undefined {
  const authorization = req.headers.authorization;
  let inQuery: 'sigv4-query' | 'sigv2-query' | undefined;
  if (params.length > 0) {
    let v4 = false;
    let v2 = false;
    for (const p of params) {
      const name = p.name;
      if (name === 'X-Amz-Algorithm' || name === 'X-Amz-Credential' || name === 'X-Amz-Signature') v4 = true;
      else if (name === 'AWSAccessKeyId' || name === 'Signature') v2 = true;
    }
    if (v4) inQuery = 'sigv4-query';
    else if (v2) inQuery = 'sigv2-query';
  }
  if (authorization !== undefined && authorization !== '') {
    if (inQuery) {
      throw new S3Error(
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        { extra: { ArgumentName: 'Authorization', ArgumentValue: authorization } },
      );
    }
    if (authorization.startsWith(`${SIGV4_ALGORITHM} `)) return 'sigv4-header';
    if (authorization.startsWith('AWS ')) return 'sigv2-header';
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', {
      extra: { ArgumentName: 'Authorization', ArgumentValue: authorization },
    });
  }
  return inQuery;
}

/**
 * Authenticate a request from its method, raw path, raw query and headers (never the body).
 * Returns the AuthContext the payload verifier needs; throws S3Error (SignatureDoesNotMatch,
 * InvalidAccessKeyId, RequestTimeTooSkewed, AccessDenied "Request has expired",
 * AuthorizationHeaderMalformed, AuthorizationQueryParametersError, InvalidArgument, ...).
 */
export function authenticate(req: AuthRequest, lookupSecret: SecretLookup, opts: AuthOptions): AuthContext {
  // The query is parsed once here and shared with the presigned verifier.
  const params = req.params ?? (req.rawQuery === '' ? [] : parseQueryParams(req.rawQuery));
  switch (detect(req, params)) {
    case 'sigv4-header':
      return verifySigV4Header(req, lookupSecret, opts);
    case 'sigv4-query':
      return verifySigV4Query(req, lookupSecret, opts, params);
    case 'sigv2-header':
      return verifySigV2Header(req, lookupSecret, opts);
    case 'sigv2-query':
      return verifySigV2Query(req, lookupSecret, opts);
    case undefined: {
      if (!opts.allowAnonymous) throw new S3Error('AccessDenied');
      // Anonymous requests may still declare a body hash; honour it so the body is checked.
      const declared = req.headers['x-amz-content-sha256'];
      const mode = declared === undefined ? undefined : payloadModeOf(declared.trim());
      const ctx: AuthContext = { method: 'anonymous', accessKeyId: '', payloadMode: 'UNSIGNED-PAYLOAD' };
      if (mode && (mode.mode === 'SIGNED' || mode.mode === 'STREAMING-UNSIGNED-TRAILER')) {
        ctx.payloadMode = mode.mode;
        if (mode.sha256 !== undefined) ctx.declaredSha256 = mode.sha256;
      }
      return ctx;
    }
  }
}
