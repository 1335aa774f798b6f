// Rendering an S3Error as the S3 error document. Invariant: rendering never throws, whatever the
// error carries: a value XML 1.0 cannot hold (a key with a control character, say) has those
// characters percent-encoded rather than failing the error response itself.

import { ERROR_CATALOGUE, isS3Error, S3Error } from './errors.ts';
import { el, isXmlRepresentable, renderXmlDocument, type XmlElement } from './xml.ts';

/** Where the error happened, rendered after the code-specific fields. */
export interface ErrorXmlContext {
  /** The request path (e.g. `/bucket/key`), rendered as <Resource>. */
  resource?: string;
  /** Must equal the `x-amz-request-id` response header. */
  requestId: string;
  /** Rendered as <HostId> when given (`x-amz-id-2`). */
  hostId?: string;
}

// Hazard: the replacement keeps only characters legal in XML 1.0; the surrogate check is done by
// isXmlRepresentable per character so valid pairs survive.
function safeText(value: string): string {
  if (isXmlRepresentable(value)) return value;
  let out = '';
  for (const ch of value) {
    out += isXmlRepresentable(ch)
      ? ch
      : Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(
          '',
        );
  }
  return out;
}

/** Coerce any thrown value to an S3Error (unknown failures become InternalError, message hidden). */
export function toS3Error(err: unknown): S3Error {
  if (isS3Error(err)) return err;
  return new S3Error('InternalError', undefined, { cause: err });
}

/** `<?xml ...?><Error><Code/><Message/>...extra...<Resource/><RequestId/><HostId/></Error>`, no namespace. */
export function renderErrorXml(err: S3Error, context: ErrorXmlContext): string {
  const children: XmlElement[] = [
    el('Code', err.code),
    el('Message', safeText(err.message || ERROR_CATALOGUE[err.code].message)),
  ];
  if (err.extra) {
    for (const [name, value] of Object.entries(err.extra)) children.push(el(name, safeText(value)));
  }
  if (context.resource !== undefined) children.push(el('Resource', safeText(context.resource)));
  children.push(el('RequestId', safeText(context.requestId)));
  if (context.hostId !== undefined) children.push(el('HostId', safeText(context.hostId)));
  return renderXmlDocument(el('Error', children), { namespace: null });
}
