// A POST Object body (multipart/form-data) read as S3 reads it: the fields before the `file`
// field, then the file's bytes as a stream; fields after the file are ignored.
// Memory is bounded: the fields by MAX_FORM_FIELDS_BYTES in all, the file never by more than one
// network chunk plus a delimiter (a file is never buffered whole).
// Hazard: a delimiter can straddle two network chunks, so the last (delimiter length - 1) bytes
// of a chunk are held back until the next one shows whether they start the delimiter.
import { S3Error } from '@blobcache/s3-protocol';

/** S3 allows about 20 KB of form fields; the policy alone may take a few KiB. */
export const MAX_FORM_FIELDS_BYTES = 64 * 1024;
const MAX_PART_HEADER_BYTES = 8 * 1024;
const MAX_FORM_FIELDS = 200;

export interface PostForm {
  /** Fields before the file, names lower-cased, values as UTF-8 text. */
  fields: Map<string, string>;
  /** The file part's `filename` (S3 substitutes it for `${filename}` in the key). */
  filename: string | undefined;
  /** The file part's own Content-Type header, if any. */
  fileContentType: string | undefined;
  /** The file's bytes; iterate it to the end (or the request is left unread). */
  file: AsyncIterable<Uint8Array>;
}

function malformed(why: string): S3Error {
  return new S3Error(
    'MalformedPOSTRequest',
    `The body of your POST request is not well-formed multipart/form-data: ${why}`,
  );
}

/** The boundary of a `multipart/form-data; boundary=...` Content-Type, or undefined. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  return boundary !== undefined && boundary.length <= 200 ? boundary : undefined;
}

class ByteReader {
  #it: AsyncIterator<Uint8Array>;
  buf: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.#it = body[Symbol.asyncIterator]();
  }

  /** The next network chunk as it arrived (not appended to `buf`); undefined at the end. */
  async next(): Promise<Buffer | undefined> {
    if (this.#ended) return undefined;
    const r = await this.#it.next();
    if (r.done) {
      this.#ended = true;
      return undefined;
    }
    return Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
  }

  /** Appends the next network chunk to `buf`; false at the end of the body. */
  async more(): Promise<boolean> {
    const chunk = await this.next();
    if (chunk === undefined) return false;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** The bytes before `delim` (which is consumed); at most `maxBytes` of them. */
  async until(delim: Buffer, maxBytes: number, what: string): Promise<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(delim);
      if (i >= 0) {
        if (i > maxBytes) throw malformed(`${what} is too large`);
        const out = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + delim.length);
        return out;
      }
      if (this.buf.length > maxBytes + delim.length) throw malformed(`${what} is too large`);
      if (!(await this.more())) throw malformed(`the body ended inside ${what}`);
    }
  }

  async take(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.more())) throw malformed('the body ended early');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.more()) this.buf = Buffer.alloc(0);
  }
}

function headerParam(header: string, name: string): string | undefined {
  const m =
    new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(header) ??
    new RegExp(`;\\s*${name}=([^;\\s]+)`, 'i').exec(header);
  return m?.[1]?.replace(/\\(.)/g, '$1');
}

/** Reads the fields and opens the file of a POST Object form (`boundary` from formBoundary). */
export async function readPostForm(body: AsyncIterable<Uint8Array>, boundary: string): Promise<PostForm> {
  const reader = new ByteReader(body);
  const dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  await reader.until(dashBoundary, MAX_FORM_FIELDS_BYTES, 'the preamble');
  const fields = new Map<string, string>();
  let fieldBytes = 0;
  for (;;) {
    const after = (await reader.take(2)).toString('latin1');
    if (after === '--') throw new S3Error('IncorrectNumberOfFilesInPostRequest');
    if (after !== '\r\n') throw malformed('a boundary is not followed by a line break');
    const head = (
      await reader.until(Buffer.from('\r\n\r\n'), MAX_PART_HEADER_BYTES, 'part headers')
    ).toString('utf8');
    let disposition: string | undefined;
    let partType: string | undefined;
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === 'content-disposition') disposition = line.slice(colon + 1);
      else if (name === 'content-type') partType = line.slice(colon + 1).trim();
    }
    const name = disposition === undefined ? undefined : headerParam(disposition, 'name')?.toLowerCase();
    if (name === undefined) throw malformed('a part has no Content-Disposition name');
    if (name === 'file') {
      return {
        fields,
        filename: disposition === undefined ? undefined : headerParam(disposition, 'filename'),
        fileContentType: partType,
        file: fileBytes(reader, delimiter),
      };
    }
    const value = await reader.until(delimiter, MAX_FORM_FIELDS_BYTES - fieldBytes, `field ${name}`);
    fieldBytes += value.length;
    if (fields.size >= MAX_FORM_FIELDS) throw malformed('too many fields');
    fields.set(name, value.toString('utf8'));
  }
}

/**
 * The file's bytes, chunk by chunk as they arrive: each network chunk is searched in place (no
 * copy); only the held-back tail of the previous chunk and the first bytes of the next one are
 * joined, to find a delimiter that straddles them (chunks shorter than a delimiter are joined
 * whole). Yielded bytes are never written again.
 */
async function* fileBytes(reader: ByteReader, delimiter: Buffer): AsyncGenerator<Uint8Array> {
  const keep = delimiter.length - 1;
  let pending = reader.buf; // read with the part headers, not yet yielded
  reader.buf = Buffer.alloc(0);
  for (;;) {
    const i = pending.indexOf(delimiter);
    if (i >= 0) {
      if (i > 0) yield pending.subarray(0, i);
      reader.buf = pending.subarray(i + delimiter.length);
      break;
    }
    if (pending.length > keep) {
      yield pending.subarray(0, pending.length - keep);
      pending = pending.subarray(pending.length - keep);
    }
    const next = await reader.next();
    if (next === undefined) throw malformed('the body ended inside the file');
    if (next.length < keep) {
      // Too short to hold the end of a delimiter that starts in `pending`: join them (small).
      pending = Buffer.concat([pending, next]);
      continue;
    }
    if (pending.length > 0) {
      // A delimiter starting in `pending` (shorter than one) ends within `keep` bytes of `next`,
      // and none fits in those alone: one found here starts in `pending`.
      const seam = Buffer.concat([pending, next.subarray(0, keep)]);
      const j = seam.indexOf(delimiter);
      if (j >= 0) {
        if (j > 0) yield pending.subarray(0, j);
        reader.buf = next.subarray(j + delimiter.length - pending.length);
        break;
      }
      yield pending;
    }
    pending = next;
  }
  // Fields after the file are ignored, as S3 does; the body is read to its end.
  await reader.drain();
}
