// Streaming decoder for `aws-chunked` bodies (all four STREAMING-* variants).
// Invariants:
// - Only payload bytes are yielded, as zero-copy views of the input; framing never leaks out.
// - Memory is bounded: at most one chunk-header line (maxChunkHeaderBytes) and one trailer
//   section (maxTrailerBytes) are buffered; chunk data is never buffered, whatever its size.
// - In the signed variants every chunk signature is checked, chained from the seed signature,
//   and the trailer signature is checked in the signed-trailer variant.
// Hazard: a chunk's signature can only be checked after its data has been yielded (the data
// comes after the header that carries the signature). Consumers must treat everything yielded
// as provisional until the iterator finishes without throwing, and commit nothing before that.

import { createHash, type Hash } from 'node:crypto';
import { hmacHex, signaturesEqual } from '../auth/signing-key.ts';
import { S3Error } from '../errors.ts';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What the decoder must check, derived from the AuthContext. */
export interface ChunkSigning {
  signingKey: Buffer;
  seedSignature: string;
  amzDate: string;
  scope: string;
}

/** Decoder configuration. */
export interface AwsChunkedOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): verify chunk signatures. */
  signing?: ChunkSigning;
  /** True when trailing headers may follow the final chunk. */
  trailers: boolean;
  /** Trailer names announced in `x-amz-trailer` (lower-case); others are refused. Undefined: any name. */
  announcedTrailers?: ReadonlySet<string>;
  /** Verify `x-amz-trailer-signature` (signed-trailer variant; requires `signing`). */
  signedTrailer: boolean;
  /** Longest chunk-header line accepted, in bytes. */
  maxChunkHeaderBytes: number;
  /** Largest trailer section accepted, in bytes. */
  maxTrailerBytes: number;
  /** Receives each trailing header (name lower-case, value trimmed) once all are read and verified. */
  onTrailers: (trailers: Map<string, string>) => void;
}

function malformed(detail: string): S3Error {
  return new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${detail}`);
}

function sigEqual(expected: string, provided: string): boolean {
  return signaturesEqual(expected, provided.toLowerCase());
}

interface ChunkHeader {
  size: number;
  signature: string | undefined;
}

function parseChunkHeader(line: string): ChunkHeader {
  const semi = line.indexOf(';');
  const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
  if (!/^[0-9a-fA-F]{1,13}$/.test(sizeText)) throw malformed(`bad chunk size "${sizeText.slice(0, 32)}"`);
  let signature: string | undefined;
  if (semi !== -1) {
    for (const ext of line.slice(semi + 1).split(';')) {
      const eq = ext.indexOf('=');
      const name = (eq === -1 ? ext : ext.slice(0, eq)).trim();
      if (name === 'chunk-signature') signature = eq === -1 ? '' : ext.slice(eq + 1).trim();
    }
  }
  return { size: Number.parseInt(sizeText, 16), signature };
}

/**
 * Decode an aws-chunked byte stream, yielding payload bytes. Throws S3Error: IncompleteBody
 * (truncated or malformed framing), SignatureDoesNotMatch (chunk or trailer signature),
 * MalformedTrailerError (bad or oversized trailer section).
 */
export async function* decodeAwsChunked(
  source: AsyncIterable<Uint8Array>,
  opts: AwsChunkedOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const signing = opts.signing;
  let prevSignature = signing?.seedSignature;
  const signingPrefix = signing ? `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n` : '';

  type State = 'header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';
  let state: State = 'header';
  // Partial line (chunk header or trailer line) carried across input pieces.
  let lineParts: Buffer[] = [];
  let lineBytes = 0;
  let trailerBytes = 0;
  let remaining = 0;
  let chunkSignature: string | undefined;
  let chunkHash: Hash | undefined;
  const trailers = new Map<string, string>();
  const trailerOrder: [string, string][] = [];
  let trailerSignature: string | undefined;

  const verifyChunk = (dataHashHex: string): void => {
    if (!signing) return;
    if (chunkSignature === undefined || chunkSignature === '') {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'A chunk of the aws-chunked body carries no chunk-signature',
      );
    }
    const sts = `${signingPrefix}${prevSignature}\n${EMPTY_SHA256}\n${dataHashHex}`;
    const expected = hmacHex(signing.signingKey, sts);
    if (!sigEqual(expected, chunkSignature)) {
      throw new S3Error('SignatureDoesNotMatch', undefined, {
        extra: { StringToSign: sts, SignatureProvided: chunkSignature },
      });
    }
    prevSignature = expected;
  };

  const finishTrailers = (): void => {
    if (opts.signedTrailer && signing) {
      if (trailerSignature === undefined) {
        throw new S3Error('SignatureDoesNotMatch', 'The x-amz-trailer-signature trailing header is missing');
      }
      const canonical = trailerOrder
        .slice()
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => `${k}:${v}\n`)
        .join('');
      const sts = `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${prevSignature}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
      const expected = hmacHex(signing.signingKey, sts);
      if (!sigEqual(expected, trailerSignature)) {
        throw new S3Error('SignatureDoesNotMatch', undefined, {
          extra: { StringToSign: sts, SignatureProvided: trailerSignature },
        });
      }
    }
    // Without signing (STREAMING-UNSIGNED-PAYLOAD-TRAILER) a trailer signature means nothing: ignored.
    opts.onTrailers(trailers);
  };

  const takeLine = (
    buf: Uint8Array,
    pos: number,
    limit: number,
    what: string,
  ): { line: string; next: number } | undefined => {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl === -1 ? buf.length : nl;
    const add = end - pos;
    if (lineBytes + add > limit) {
      throw what === 'trailer'
        ? new S3Error('MalformedTrailerError', 'The trailing header section is too large')
        : malformed('chunk header line too long');
    }
    if (nl === -1) {
      if (add > 0) {
        lineParts.push(Buffer.from(buf.subarray(pos, end)));
        lineBytes += add;
      }
      return undefined;
    }
    let bytes: Buffer;
    if (lineParts.length === 0) bytes = Buffer.from(buf.buffer, buf.byteOffset + pos, add);
    else {
      lineParts.push(Buffer.from(buf.subarray(pos, end)));
      bytes = Buffer.concat(lineParts, lineBytes + add);
    }
    lineParts = [];
    lineBytes = 0;
    let line = bytes.toString('latin1');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    return { line, next: nl + 1 };
  };

  for await (const piece of source) {
    const buf = piece;
    let pos = 0;
    while (pos < buf.length) {
      switch (state) {
        case 'header': {
          const got = takeLine(buf, pos, opts.maxChunkHeaderBytes, 'header');
          if (!got) {
            pos = buf.length;
            break;
          }
          pos = got.next;
          const header = parseChunkHeader(got.line);
          chunkSignature = header.signature;
          if (header.size === 0) {
            verifyChunk(EMPTY_SHA256);
            state = 'trailer';
          } else {
            remaining = header.size;
            chunkHash = signing ? createHash('sha256') : undefined;
            state = 'data';
          }
          break;
        }
        case 'data': {
          const take = Math.min(remaining, buf.length - pos);
          const slice = buf.subarray(pos, pos + take);
          chunkHash?.update(slice);
          remaining -= take;
          pos += take;
          if (remaining === 0) state = 'data-cr';
          yield slice;
          break;
        }
        case 'data-cr': {
          const c = buf[pos++];
          if (c === 0x0d) state = 'data-lf';
          else if (c === 0x0a) {
            verifyChunk(chunkHash ? chunkHash.digest('hex') : EMPTY_SHA256);
            state = 'header';
          } else throw malformed('chunk data longer than its declared size');
          break;
        }
        case 'data-lf': {
          if (buf[pos++] !== 0x0a) throw malformed('chunk data not followed by CRLF');
          verifyChunk(chunkHash ? chunkHash.digest('hex') : EMPTY_SHA256);
          state = 'header';
          break;
        }
        case 'trailer': {
          const got = takeLine(buf, pos, opts.maxTrailerBytes, 'trailer');
          trailerBytes += (got ? got.next : buf.length) - pos;
          if (trailerBytes > opts.maxTrailerBytes) {
            throw new S3Error('MalformedTrailerError', 'The trailing header section is too large');
          }
          if (!got) {
            pos = buf.length;
            break;
          }
          pos = got.next;
          if (got.line === '') {
            finishTrailers();
            state = 'done';
            break;
          }
          const colon = got.line.indexOf(':');
          if (colon <= 0) throw new S3Error('MalformedTrailerError');
          const name = got.line.slice(0, colon).trim().toLowerCase();
          const value = got.line.slice(colon + 1).trim();
          if (name === 'x-amz-trailer-signature') {
            trailerSignature = value;
          } else {
            if (!opts.trailers) {
              throw new S3Error('MalformedTrailerError', 'Trailing headers were sent but not announced');
            }
            if (opts.announcedTrailers && !opts.announcedTrailers.has(name)) {
              throw new S3Error(
                'MalformedTrailerError',
                `Trailing header ${name} was not announced in x-amz-trailer`,
              );
            }
            if (trailers.has(name)) {
              throw new S3Error('MalformedTrailerError', `Trailing header ${name} repeated`);
            }
            trailers.set(name, value);
            trailerOrder.push([name, value]);
          }
          break;
        }
        case 'done':
          throw malformed('data after the end of the aws-chunked body');
      }
    }
  }
  if (state === 'trailer' && lineBytes === 0) {
    // Tolerate a body that ends right after the last trailer line (no closing empty line).
    finishTrailers();
    state = 'done';
  }
  if (state !== 'done')
    throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk');
}
