// Test support for other packages (`@blobcache/s3-protocol/testing`): produce request bodies and
// signatures that the installed SDKs cannot, and capture raw HTTP requests on loopback.
// Not for production code.

/** aws-chunked encoder (signed/unsigned, trailers, signed trailer) and a piecewise body feeder. */
export { type EncodeOptions, encodeAwsChunked, pieces } from './aws-chunked-encoder.ts';
/** Loopback HTTP server recording requests exactly as they arrived. */
export { type CapturedRequest, type CaptureServer, startCaptureServer } from './capture-server.ts';
/** The S3 error code a function throws ('ok' when it returns): for tests of validators. */
export { s3ErrorCode } from './error-code.ts';
/** Minimal SigV4 header signer (pair with encodeAwsChunked for STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
export { type SignV4Input, type SignV4Output, signV4 } from './sign-v4.ts';
