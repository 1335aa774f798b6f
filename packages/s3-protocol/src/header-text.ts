// Text in HTTP header values that is not plain ASCII (user metadata, `x-amz-meta-*`).
// Invariant: decodeHeaderText(raw) is the text the client meant, and encodeHeaderText(text) is a
// value every HTTP stack carries unchanged (printable ASCII), so a stored value round-trips.
//
// Hazard: node:http hands header values over as latin1 strings (one char per byte received), and
// clients disagree on the bytes they send for the same text. Measured with the JS SDK v3 on node 22:
// a PUT whose body is a string goes out with its headers UTF-8 encoded (node writes the header
// block together with the first body chunk, in that chunk's encoding), one with a Buffer or stream
// body (and any bodiless request) goes out latin1 encoded; text beyond U+00FF makes node throw
// before sending. Both sign the UTF-8 of the text. Raw UTF-8 senders sign the bytes they send.
// botocore (aws-cli) refuses non-ASCII metadata before sending. So: bytes that are valid UTF-8 are
// read as UTF-8, anything else as latin1, and the signature is checked over that text's UTF-8.
// Latin1 text that also parses as UTF-8 needs two or more chars of U+00C2-U+00F4 followed by
// U+0080-U+00BF, which no real text is.
import { Buffer, isUtf8 } from 'node:buffer';

const NON_ASCII = /[\x80-\uffff]/;
/** What a header value may carry as is: printable ASCII and tab. */
const NEEDS_ENCODING = /[^\t\x20-\x7e]/;

/** The text of a header value as node:http decoded it (latin1): UTF-8 bytes decode as UTF-8. */
export function decodeHeaderText(raw: string): string {
  if (!NON_ASCII.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : raw;
}

/**
 * A header value for `text`: unchanged when it is printable ASCII, else one RFC 2047 encoded word
 * over its UTF-8 (`=?UTF-8?B?<base64>?=`), as S3 returns non-ASCII user metadata. A value the
 * client sent already encoded is ASCII, so it is returned exactly as sent.
 */
export function encodeHeaderText(text: string): string {
  if (!NEEDS_ENCODING.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}
