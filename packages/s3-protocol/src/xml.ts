// Building S3 XML response documents. Invariant: every string placed in a document goes through
// escapeXmlText, so the output is always well-formed XML 1.0 or the call throws; nothing is ever
// silently dropped or replaced.
//
// Hazard: XML 1.0 cannot carry most C0 control characters (U+0000-U+0008, U+000B, U+000C,
// U+000E-U+001F), lone surrogates, U+FFFE or U+FFFF, not even as `&#x..;` references (that is
// XML 1.1). Object keys may contain them. Such values make escapeXmlText throw an
// S3Error(InvalidArgument); listings avoid it by answering with encoding-type=url
// (see listing.ts), which is exactly what the S3 documentation tells clients to use.
// A carriage return is legal but a parser normalises it to LF, so it is written as `&#xD;`.

import { S3Error } from './errors.ts';

/** The S3 response namespace. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

// Characters needing work: markup, quotes, CR, XML-illegal code points and surrogates (checked
// pairwise below).
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML 1.0 forbids
const NEEDS_ESCAPE = /[&<>"'\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML 1.0 forbids
const ESCAPE_ALL = /[&<>"'\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g;

/** True when `value` can be written into XML 1.0 text (after escaping). */
export function isXmlRepresentable(value: string): boolean {
  if (!NEEDS_ESCAPE.test(value)) return true;
  try {
    escapeXmlText(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Escape text for an element body or attribute value. Throws S3Error(InvalidArgument) for
 * characters XML 1.0 cannot represent.
 */
export function escapeXmlText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPE_ALL, (ch, offset: number, whole: string) => {
    switch (ch) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      case '\r':
        return '&#xD;';
    }
    const code = ch.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = whole.charCodeAt(offset + 1);
      if (next >= 0xdc00 && next <= 0xdfff) return ch; // high half of a valid pair
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      const prev = whole.charCodeAt(offset - 1);
      if (prev >= 0xd800 && prev <= 0xdbff) return ch; // low half of a valid pair
    }
    throw new S3Error(
      'InvalidArgument',
      `The value contains the character U+${code.toString(16).toUpperCase().padStart(4, '0')} which XML 1.0 cannot represent; use encoding-type=url`,
      { extra: { ArgumentName: 'encoding-type' } },
    );
  });
}

/** One element of a document tree. Children that are `undefined`/`null`/`false` are skipped. */
export interface XmlElement {
  readonly name: string;
  readonly attributes?: Readonly<Record<string, string>>;
  readonly content: string | readonly XmlChild[];
}

/** A child slot: an element, or nothing (optional fields). */
export type XmlChild = XmlElement | undefined | null | false;

/** Scalar values accepted as element text. Dates render as ISO-8601 with milliseconds. */
export type XmlScalar = string | number | bigint | boolean | Date;

function scalarText(value: XmlScalar): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Build an element: `el('Key', 'a/b')`, `el('Contents', [el('Key', k), el('Size', n)])`. */
export function el(name: string, content?: XmlScalar | readonly XmlChild[]): XmlElement {
  if (content === undefined) return { name, content: '' };
  if (Array.isArray(content)) return { name, content: content as readonly XmlChild[] };
  return { name, content: scalarText(content as XmlScalar) };
}

/** An element only when `value` is defined: `optEl('NextMarker', marker)`. */
export function optEl(name: string, value: XmlScalar | undefined | null): XmlElement | undefined {
  return value === undefined || value === null ? undefined : el(name, value);
}

// String concatenation (V8 builds a rope, flattened once when the body is written) instead of an
// array of pieces joined at the end: a 1000-key listing has ~20k pieces.
function renderElement(node: XmlElement): string {
  let out = `<${node.name}`;
  const attributes = node.attributes;
  if (attributes) {
    for (const k in attributes) out += ` ${k}="${escapeXmlText(attributes[k]!)}"`;
  }
  const content = node.content;
  if (typeof content === 'string') {
    out += `>${escapeXmlText(content)}</${node.name}>`;
    return out;
  }
  out += '>';
  for (let i = 0; i < content.length; i++) {
    const child = content[i];
    if (child) out += renderElement(child);
  }
  return `${out}</${node.name}>`;
}

/** Options for renderXmlDocument. */
export interface RenderXmlOptions {
  /** Default S3_XMLNS; `null` renders no namespace (error documents). */
  namespace?: string | null;
}

/** Render a full document with the XML declaration and (by default) the S3 namespace on the root. */
export function renderXmlDocument(root: XmlElement, options: RenderXmlOptions = {}): string {
  const ns = options.namespace === undefined ? S3_XMLNS : options.namespace;
  const withNs: XmlElement =
    ns === null ? root : { ...root, attributes: { xmlns: ns, ...(root.attributes ?? {}) } };
  return XML_DECLARATION + renderElement(withNs);
}
