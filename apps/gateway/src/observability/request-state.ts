// Per-request facts gathered while a request is served and logged once when it ends.
// Invariant: `requestId` is the value of the `x-amz-request-id` header on the response and in any
// error body, so a client-side failure can be found in the log by that id.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type RequestState = {
  requestId: string;
  startedAtNs: bigint;
  operation?: string;
  bucket?: string;
  key?: string;
  /** Payload bytes received (after aws-chunked decoding). */
  bytesIn: number;
  /** Body bytes sent. */
  bytesOut: number;
  errorCode?: string;
};

const states = new WeakMap<IncomingMessage, RequestState>();

const ID_BYTES = 8;
/** Random bytes fetched at once for request ids (one randomBytes call per 512 requests). */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolAt = 0;

/** 16 upper-case hex characters, like S3's request ids. */
export function newRequestId(): string {
  if (idPoolAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolAt = 0;
  }
  const id = idPool.toString('hex', idPoolAt, idPoolAt + ID_BYTES).toUpperCase();
  idPoolAt += ID_BYTES;
  return id;
}

export function attachRequestState(req: IncomingMessage): RequestState {
  const state: RequestState = {
    requestId: newRequestId(),
    startedAtNs: process.hrtime.bigint(),
    bytesIn: 0,
    bytesOut: 0,
  };
  states.set(req, state);
  return state;
}

export function requestState(req: IncomingMessage): RequestState {
  const state = states.get(req);
  if (!state) throw new Error('request state missing: the request did not pass through server.ts');
  return state;
}
