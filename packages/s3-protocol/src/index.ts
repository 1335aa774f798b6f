// @blobcache/s3-protocol: pure S3 wire pieces (no storage, no server, no HTTP framework).
// Everything here works on strings, Buffers/Uint8Arrays and async iterables. Every failure is an
// S3Error (see errors.ts) carrying the S3 code and HTTP status to answer with.
//
// API map (pieces land in this order; signatures are stable once exported):
//   errors + XML ........ S3Error, ERROR_CATALOGUE, renderErrorXml, el/renderXmlDocument, parseXml,
//                         parseCompleteMultipartUpload, parseDeleteObjects, parseCreateBucketConfiguration,
//                         parseTagging
//   names ............... validateBucketName, validateObjectKey
//   auth ................ authenticate(req, lookupSecret, opts) → AuthContext (headers only, never the body)
//   payload ............. verifyPayload(source, auth, headers, opts) → { body, result() }, stripAwsChunkedEncoding
//   checksums ........... createHasher(alg), parseChecksumHeaders, checksumHeaderName
//   semantics ........... parseRange, evaluateConditionals, dates, encodeListingValue, etags

/** Shapes of authentication: the raw request, the resulting AuthContext, policy options. */
export type {
  AuthContext,
  AuthMethod,
  AuthOptions,
  AuthRequest,
  PayloadMode,
  SecretLookup,
} from './auth/types.ts';
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
/** Typed readers for CompleteMultipartUpload, Delete, CreateBucketConfiguration and Tagging bodies. */
export {
  type CompletedPart,
  type DeleteObjectEntry,
  type DeleteObjectsRequest,
  MAX_DELETE_KEYS,
  MAX_PART_NUMBER,
  type ParseTaggingOptions,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteObjects,
  parseTagging,
  type Tag,
  unquoteEtag,
} from './request-bodies.ts';
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
