// @blobcache/s3-protocol: pure S3 wire pieces (no storage, no server, no HTTP framework).
// Everything here works on strings, Buffers/Uint8Arrays and async iterables. Every failure is an
// S3Error (see errors.ts) carrying the S3 code and HTTP status to answer with.
//
// API map (signatures are stable; each export below has a one-line description):
//   errors + XML ... S3Error, ERROR_CATALOGUE, renderErrorXml, toS3Error, el/optEl/renderXmlDocument,
//                    parseXml, parseCompleteMultipartUpload, parseDeleteObjects,
//                    parseCreateBucketConfiguration, parseTagging
//   names/URLs ..... validateBucketName, validateObjectKey, parseS3Path, parseQuery, percentDecodeUtf8
//   auth ........... authenticate(req, lookupSecret, opts) → AuthContext (headers only, never the body)
//   payload ........ verifyPayload(source, auth, headers, opts) → { body, result() }, stripAwsChunkedEncoding
//   checksums ...... createHasher(alg), parseChecksumHeaders, checksumHeaderName, compositeChecksum, combineCrcs
//   ACLs ........... checkAclHeaders (only owner-only ACLs pass: ACLs are disabled, as S3's default)
//   policies ....... parseBucketPolicy (validated, compiled) → evaluatePolicy(policy, request)
//   header text .... decodeHeaderText (UTF-8 or latin1 bytes → text), encodeHeaderText (RFC 2047)
//   semantics ...... parseRange, evaluateReadConditionals / evaluateCopySourceConditionals /
//                    evaluateWriteConditionals, md5Etag / multipartEtag, date formats,
//                    encodeListingValue, parseCopySource, resolveCompletedParts
//   test support ... '@blobcache/s3-protocol/testing' (encoder, signer, capture server; tests only)

/** ACL headers with ACLs disabled (bucket owner enforced): only owner-only ACLs pass. */
export { checkAclHeaders, checkAclPolicy } from './acl.ts';
/**
 * Authenticate a request from method, raw path, raw query and headers (never the body, so it can
 * run in node:http's `checkContinue` before `100 Continue`). SigV4 header + presigned, SigV2
 * header + presigned. Throws S3Error; returns the AuthContext the payload verifier needs.
 */
export { authenticate, detectAuthMethod } from './auth/authenticate.ts';
/** The `x-amz-content-sha256` → payload mode mapping (undefined when the value is invalid). */
export { type PostPolicyGrant, verifyPostPolicy } from './auth/post-policy.ts';
export { payloadModeOf } from './auth/sigv4.ts';
/** Shapes of authentication: the raw request, the resulting AuthContext, policy options. */
export type {
  AuthContext,
  AuthMethod,
  AuthOptions,
  AuthRequest,
  PayloadMode,
  SecretLookup,
} from './auth/types.ts';
/** FULL_OBJECT multipart CRCs: combine part CRC digests + lengths into the whole object's CRC (no data needed). */
export { combineCrcs, isCombinable } from './checksums/crc-combine.ts';
/** Incremental hashers (CRC32, CRC32C, CRC64NVME, SHA1, SHA256, MD5): `createHasher(alg).update(b)…digest()`. */
export {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  compositeChecksum,
  createHasher,
  digestLength,
  type HashAlgorithm,
  type Hasher,
  hashBytes,
  toBase64,
} from './checksums/hashers.ts';
/** Declared-checksum headers: `parseChecksumHeaders(headers)` → { algorithm, value?, source } | undefined. */
export {
  assertChecksumValue,
  type ChecksumType,
  checksumHeaderName,
  checksumXmlName,
  type DeclaredChecksum,
  isBase64OfLength,
  parseChecksumAlgorithm,
  parseChecksumHeaders,
  parseChecksumType,
} from './checksums/headers.ts';
/** Conditional headers: reads (412/304), copy-source (412), writes (If-None-Match: *, If-Match). */
export {
  type DeleteConditions,
  type DeletedVersion,
  deleteEntryConditions,
  evaluateCopySourceConditionals,
  evaluateDeleteConditionals,
  evaluateReadConditionals,
  evaluateWriteConditionals,
  type ObjectVersion,
  parseDeleteConditions,
} from './conditionals.ts';
/** CopyObject / UploadPartCopy headers: x-amz-copy-source, -range, metadata/tagging directives. */
export { type CopySource, parseCopyDirective, parseCopySource, parseCopySourceRange } from './copy.ts';
/** `parseRange(header, size)` → full | partial {start,end,contentRange}; unsatisfiable → InvalidRange 416. */
/** Bucket CORS configurations: PutBucketCors bodies parsed as S3 does, rendered back, matched per request. */
export {
  CORS_METHODS,
  type CorsMatch,
  type CorsRule,
  corsConfigurationXml,
  MAX_CORS_RULES,
  matchCorsRule,
  parseCorsConfiguration,
} from './cors-config.ts';
/** Wire date formats: IMF-fixdate headers, ISO-8601 XML, amz basic `20130524T000000Z`. */
export {
  formatAmzDate,
  formatHttpDate,
  formatIsoDate,
  parseAmzDate,
  parseHttpDate,
  parseIsoDate,
} from './dates.ts';
/** Render an S3Error as the S3 `<Error>` document (no namespace); coerce unknown throws to InternalError. */
export { type ErrorXmlContext, renderErrorXml, toS3Error } from './error-xml.ts';
/** S3 error type, error-code catalogue (code → status + default message) and helpers. */
export {
  ERROR_CATALOGUE,
  isS3Error,
  S3Error,
  type S3ErrorCode,
  type S3ErrorOptions,
  s3Error,
  statusForCode,
} from './errors.ts';
/** ETags: `md5Etag`, `multipartEtag` (`"<md5 of part md5s>-N"`), normalise/compare/parse If-Match lists. */
export { etagsMatch, md5Etag, multipartEtag, normalizeEtag, parseEtagList, quoteEtag } from './etag.ts';
/** Non-ASCII header text (user metadata): read as node:http hands it over, answered RFC 2047-encoded. */
export { decodeHeaderText, encodeHeaderText } from './header-text.ts';
/** Bucket lifecycle rules: PutBucketLifecycleConfiguration bodies parsed as S3 does, and when actions fall due. */
export {
  abortDueAtMs,
  canTransition,
  expiresAtMs,
  type LifecycleFilter,
  type LifecycleRule,
  type LifecycleTransition,
  lifecycleFilterMatches,
  MAX_LIFECYCLE_RULES,
  MIN_TRANSITION_BYTES,
  nextMidnightUtc,
  parseLifecycleConfiguration,
  transitionedClass,
} from './lifecycle.ts';
/** encoding-type=url listing values (S3/botocore compatible), and encoding-type / max-keys validation. */
export { encodeListingValue, parseEncodingType, parseMaxKeys } from './listing.ts';
/** Multipart rules: part-number and page-size parameters, CompleteMultipartUpload part matching (InvalidPart, EntityTooSmall). */
export {
  MAX_PART_BYTES,
  MIN_PART_BYTES,
  parseMaxCount,
  parsePartNumber,
  type ResolvePartsOptions,
  resolveCompletedParts,
  type UploadedPart,
} from './multipart.ts';
/** Bucket-name and object-key rules, and path-style/virtual-hosted path splitting without normalisation. */
export {
  bucketNameProblem,
  MAX_KEY_BYTES,
  parseS3Path,
  type S3PathTarget,
  validateBucketName,
  validateObjectKey,
} from './names.ts';
/** The raw aws-chunked decoder under verifyPayload (for callers that manage auth themselves). */
export { type AwsChunkedOptions, type ChunkSigning, decodeAwsChunked } from './payload/aws-chunked.ts';
/**
 * Verify a request body against its AuthContext and headers: `verifyPayload(source, auth, headers,
 * { compute: ['MD5', ...] })` → `{ body, result() }`. `body` yields only payload bytes (aws-chunked
 * framing decoded, all STREAMING-* modes, chunk/trailer signatures, x-amz-content-sha256, Content-MD5,
 * x-amz-checksum-*, declared length); commit only after it completes, then read `result()`.
 * Header-level problems throw synchronously (before any byte is read).
 */
export {
  type PayloadResult,
  stripAwsChunkedEncoding,
  type VerifiedPayload,
  type VerifyPayloadOptions,
  verifyPayload,
} from './payload/verify-payload.ts';
/** Bucket policies: parsed and validated once (MalformedPolicy / NotImplemented), evaluated per request. */
export {
  type BucketPolicy,
  MAX_BUCKET_POLICY_BYTES,
  type PolicyStatement,
  parseBucketPolicy,
} from './policy/bucket-policy.ts';
export {
  evaluatePolicy,
  type PolicyDecision,
  type PolicyRequest,
  policyIsPublic,
  s3Arn,
} from './policy/policy-eval.ts';
/** Query-string parsing as S3 reads it (`+` is a space, `?uploads` and `?uploads=` both present). */
export { parseQuery, parseQueryParams, type QueryParam, queryMapOf } from './query.ts';
export { parseRange, type RangeResult } from './range.ts';
/** Typed readers for CompleteMultipartUpload, Delete, CreateBucketConfiguration and Tagging bodies. */
export {
  type CompletedPart,
  type DeleteObjectEntry,
  type DeleteObjectsRequest,
  MAX_DELETE_KEYS,
  MAX_PART_NUMBER,
  OBJECT_OWNERSHIP_VALUES,
  type ParseTaggingOptions,
  type PublicAccessBlock,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteObjects,
  parseOwnershipControls,
  parsePublicAccessBlock,
  parseTagging,
  parseTaggingHeader,
  parseVersioningConfiguration,
  publicAccessBlockXml,
  type Tag,
  unquoteEtag,
  type VersioningConfiguration,
} from './request-bodies.ts';
/** Storage classes: the immediately readable ones are recorded; archive classes answer 501. */
export { IMMEDIATE_STORAGE_CLASSES, parseStorageClass } from './storage-class.ts';
/** Byte-exact percent-decoding and SigV4 URI encoding. */
export { percentDecodeBytes, percentDecodeUtf8, uriEncode, uriEncodeBytes } from './uri.ts';
/** Response-document builder: `renderXmlDocument(el('Root', [el('Child', v), optEl('Opt', maybe)]))`. */
export {
  el,
  escapeXmlText,
  isXmlRepresentable,
  optEl,
  type RenderXmlOptions,
  renderXmlDocument,
  S3_XMLNS,
  type XmlChild,
  type XmlElement,
  type XmlScalar,
} from './xml.ts';
/** Strict, bounded XML parser for request bodies (namespaces optional, no DTDs) → MalformedXML. */
export {
  childElements,
  childText,
  firstChild,
  type ParseXmlOptions,
  parseXml,
  type XmlNode,
} from './xml-parse.ts';
