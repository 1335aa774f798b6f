// Authorization after authentication: who may run this operation on this bucket or object.
// blobcache has one account, so every configured credential is the bucket owner. Invariant:
//   - an anonymous (unsigned) request runs only what its bucket's policy explicitly allows and
//     nothing it denies; without a policy, or on a service-level or read-through (mapped) bucket,
//     it is AccessDenied, as before policies existed;
//   - a signed request runs anything except what the bucket's policy explicitly denies; the
//     policy operations themselves stay open to the owner, so a policy that denies everything
//     can still be read, replaced or deleted (S3 keeps them open to the account root too).
// Every S3 operation the gateway routes has its IAM action in OPERATION_ACTIONS (a test checks
// it): an operation missing there could slip past a Deny for `s3:*`.
import type { IncomingMessage } from 'node:http';
import {
  type AuthContext,
  type BucketPolicy,
  evaluatePolicy,
  type PolicyDecision,
  parseBucketPolicy,
  parseCopySource,
  policyIsPublic,
  S3Error,
  s3Arn,
} from '@blobcache/s3-protocol';
import type { BucketRecord } from '../store/object-head.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { Headers } from './context.ts';
import type { RequestTarget } from './request-target.ts';

/** The IAM action S3 checks for each operation (the route table's operation names). */
export const OPERATION_ACTIONS: Readonly<Record<string, string>> = {
  ListBuckets: 's3:ListAllMyBuckets',
  CreateBucket: 's3:CreateBucket',
  DeleteBucket: 's3:DeleteBucket',
  HeadBucket: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  GetBucketLocation: 's3:GetBucketLocation',
  GetBucketVersioning: 's3:GetBucketVersioning',
  PutBucketVersioning: 's3:PutBucketVersioning',
  GetBucketTagging: 's3:GetBucketTagging',
  PutBucketTagging: 's3:PutBucketTagging',
  DeleteBucketTagging: 's3:PutBucketTagging',
  GetBucketAcl: 's3:GetBucketAcl',
  PutBucketAcl: 's3:PutBucketAcl',
  GetBucketPolicy: 's3:GetBucketPolicy',
  PutBucketPolicy: 's3:PutBucketPolicy',
  DeleteBucketPolicy: 's3:DeleteBucketPolicy',
  GetBucketPolicyStatus: 's3:GetBucketPolicyStatus',
  GetBucketLifecycleConfiguration: 's3:GetLifecycleConfiguration',
  PutBucketLifecycleConfiguration: 's3:PutLifecycleConfiguration',
  DeleteBucketLifecycle: 's3:PutLifecycleConfiguration',
  GetBucketWebsite: 's3:GetBucketWebsite',
  DeleteBucketWebsite: 's3:DeleteBucketWebsite',
  GetObjectLockConfiguration: 's3:GetBucketObjectLockConfiguration',
  GetBucketReplication: 's3:GetReplicationConfiguration',
  DeleteBucketReplication: 's3:PutReplicationConfiguration',
  GetPublicAccessBlock: 's3:GetBucketPublicAccessBlock',
  PutPublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  DeletePublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  GetBucketEncryption: 's3:GetEncryptionConfiguration',
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  DeleteBucketEncryption: 's3:PutEncryptionConfiguration',
  GetBucketAccelerateConfiguration: 's3:GetAccelerateConfiguration',
  PutBucketAccelerateConfiguration: 's3:PutAccelerateConfiguration',
  GetBucketRequestPayment: 's3:GetBucketRequestPayment',
  PutBucketRequestPayment: 's3:PutBucketRequestPayment',
  GetBucketLogging: 's3:GetBucketLogging',
  PutBucketLogging: 's3:PutBucketLogging',
  GetBucketNotificationConfiguration: 's3:GetBucketNotification',
  PutBucketNotificationConfiguration: 's3:PutBucketNotification',
  GetBucketOwnershipControls: 's3:GetBucketOwnershipControls',
  PutBucketOwnershipControls: 's3:PutBucketOwnershipControls',
  GetBucketCors: 's3:GetBucketCORS',
  PutBucketCors: 's3:PutBucketCORS',
  DeleteBucketCors: 's3:PutBucketCORS',
  DeleteObjects: 's3:DeleteObject',
  PostObject: 's3:PutObject',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  GetObjectAttributes: 's3:GetObjectAttributes',
  PutObject: 's3:PutObject',
  CopyObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  DeleteObject: 's3:DeleteObject',
  GetObjectTagging: 's3:GetObjectTagging',
  PutObjectTagging: 's3:PutObjectTagging',
  DeleteObjectTagging: 's3:DeleteObjectTagging',
  GetObjectAcl: 's3:GetObjectAcl',
  PutObjectAcl: 's3:PutObjectAcl',
};

/** Operations the owner may always run, whatever the policy denies (a lock-out stays repairable). */
const OWNER_ALWAYS: ReadonlySet<string> = new Set([
  'GetBucketPolicy',
  'PutBucketPolicy',
  'DeleteBucketPolicy',
]);
/** Operations whose request names a second object to read (x-amz-copy-source). */
const COPY_OPERATIONS: ReadonlySet<string> = new Set(['CopyObject', 'UploadPartCopy']);
const LIST_OPERATIONS: ReadonlySet<string> = new Set(['ListObjects', 'ListObjectsV2', 'ListObjectVersions']);

/** The request facts a policy decision reads. */
export interface AuthorizationRequest {
  method: string;
  target: RequestTarget;
  headers: Headers;
  auth: AuthContext;
  req: IncomingMessage;
}

/** Checks one more object of the request (DeleteObjects' keys); throws AccessDenied. */
export type ObjectAuthorizer = (action: string, key: string) => void;

// Compiled once per bucket record: a record is replaced, never changed, when its policy changes.
const compiled = new WeakMap<BucketRecord, BucketPolicy>();

function policyOf(bucket: string, record: BucketRecord | undefined): BucketPolicy | undefined {
  if (record?.policy === undefined) return undefined;
  let p = compiled.get(record);
  if (p === undefined) {
    p = parseBucketPolicy(record.policy, bucket);
    compiled.set(record, p);
  }
  return p;
}

/**
 * The policy that speaks for this requester: none for the anonymous public while the bucket's
 * RestrictPublicBuckets holds a public policy back (public-access.ts).
 */
function policyFor(
  bucket: string,
  record: BucketRecord | undefined,
  anonymous: boolean,
): BucketPolicy | undefined {
  const policy = policyOf(bucket, record);
  if (policy && anonymous && record?.publicAccessBlock?.restrictPublicBuckets && policyIsPublic(policy))
    return undefined;
  return policy;
}

/** The condition keys blobcache knows for this request (policy-eval.ts: absent keys matter). */
function conditionContext(r: AuthorizationRequest, operation: string): Map<string, string> {
  const context = new Map<string, string>();
  const address = r.req.socket.remoteAddress;
  if (address !== undefined) context.set('aws:sourceip', address.replace(/^::ffff:(?=\d+\.)/, ''));
  const encrypted = (r.req.socket as { encrypted?: boolean }).encrypted === true;
  context.set('aws:securetransport', encrypted ? 'true' : 'false');
  if (r.headers.referer !== undefined) context.set('aws:referer', r.headers.referer);
  if (r.headers['user-agent'] !== undefined) context.set('aws:useragent', r.headers['user-agent']);
  if (LIST_OPERATIONS.has(operation)) {
    const q = r.target.query;
    const prefix = q.get('prefix');
    const delimiter = q.get('delimiter');
    const maxKeys = q.get('max-keys');
    if (prefix !== undefined) context.set('s3:prefix', prefix);
    if (delimiter !== undefined) context.set('s3:delimiter', delimiter);
    if (maxKeys !== undefined) context.set('s3:max-keys', maxKeys);
  }
  return context;
}

function denied(): S3Error {
  return new S3Error('AccessDenied');
}

function permits(anonymous: boolean, decision: PolicyDecision): boolean {
  return anonymous ? decision === 'allow' : decision !== 'deny';
}

/** The policy's verdict on one action on one resource: throws AccessDenied. */
function check(
  policy: BucketPolicy,
  anonymous: boolean,
  action: string,
  resource: string,
  context: ReadonlyMap<string, string>,
): void {
  if (!permits(anonymous, evaluatePolicy(policy, { action, resource, context }))) throw denied();
}

/**
 * Authorizes `operation` for the request; throws AccessDenied. Returns a per-object checker when
 * the operation names more objects in its body (DeleteObjects), undefined otherwise.
 */
export function authorize(
  store: ObjectStore,
  r: AuthorizationRequest,
  operation: string,
  mapped: boolean,
): ObjectAuthorizer | undefined {
  const anonymous = r.auth.method === 'anonymous';
  const bucket = r.target.bucket;
  const action = OPERATION_ACTIONS[operation];
  if (bucket === undefined || mapped || action === undefined) {
    // No bucket policy can speak here: the owner may, the public may not.
    if (anonymous) throw denied();
    return undefined;
  }
  if (!anonymous && OWNER_ALWAYS.has(operation)) return undefined;
  // Synchronous: every bucket record is in memory while the gateway serves (no await per request).
  const policy = policyFor(bucket, store.cachedBucket(bucket), anonymous);
  if (policy === undefined) {
    if (anonymous) throw denied();
    return undefined;
  }
  const context = conditionContext(r, operation);
  if (operation === 'DeleteObjects') {
    // Each key is its own resource: DeleteObjects answers AccessDenied per key.
    return (act, key) => check(policy, anonymous, act, s3Arn(bucket, key), context);
  }
  check(policy, anonymous, action, s3Arn(bucket, r.target.key), context);
  if (COPY_OPERATIONS.has(operation)) authorizeCopySource(store, r, anonymous, context);
  return undefined;
}

/**
 * One object action decided once the request's body named the object (POST Object: the form
 * holds the key, and an unsigned form is the anonymous public's). Throws AccessDenied.
 */
export function authorizeObjectAction(
  store: ObjectStore,
  r: AuthorizationRequest & { bucket: string },
  operation: string,
  key: string,
  anonymous: boolean,
): void {
  const policy = policyFor(r.bucket, store.cachedBucket(r.bucket), anonymous);
  if (policy === undefined) {
    if (anonymous) throw denied();
    return;
  }
  const action = OPERATION_ACTIONS[operation];
  if (action === undefined) throw denied();
  check(policy, anonymous, action, s3Arn(r.bucket, key), conditionContext(r, operation));
}

/** The copy source is read: s3:GetObject on it, under its own bucket's policy. */
function authorizeCopySource(
  store: ObjectStore,
  r: AuthorizationRequest,
  anonymous: boolean,
  context: Map<string, string>,
): void {
  const header = r.headers['x-amz-copy-source'];
  if (header === undefined) return;
  let source: { bucket: string; key: string };
  try {
    source = parseCopySource(header);
  } catch {
    return; // malformed: the handler refuses it before reading anything
  }
  const policy = policyFor(source.bucket, store.cachedBucket(source.bucket), anonymous);
  if (policy !== undefined)
    check(policy, anonymous, 's3:GetObject', s3Arn(source.bucket, source.key), context);
  else if (anonymous) throw denied();
}
