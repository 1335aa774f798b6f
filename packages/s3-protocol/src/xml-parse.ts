// A small strict XML parser for S3 request bodies. Invariant: it either returns a complete element
// tree of well-formed XML 1.0 or throws S3Error(MalformedXML); it never expands anything it did
// not see (no DTDs, so no external entities and no entity-expansion bombs), and its work is
// bounded by maxXmlBytes and maxDepth.
//
// Namespaces are reduced to local names (`s3:Part` and `Part` both read as `Part`) because AWS
// accepts request bodies with or without the S3 namespace and clients differ.

import { S3Error } from './errors.ts';

/** A parsed element: local name, attributes, child elements and its own text (entity-decoded). */
export interface XmlNode {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlNode[];
  /** Concatenated direct text and CDATA of this element (not of its children). */
  readonly text: string;
}

/** Limits for parseXml. */
export interface ParseXmlOptions {
  /** Largest accepted document, in UTF-8 bytes. Default 4 MiB. */
  maxXmlBytes?: number;
  /** Deepest accepted element nesting. Default 32. */
  maxDepth?: number;
}

const DEFAULT_MAX_XML_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function malformed(detail: string): S3Error {
  // The public message is the standard one; the detail helps whoever reads logs.
  return new S3Error('MalformedXML', undefined, { cause: new Error(detail) });
}

// Characters XML 1.0 forbids anywhere in a document.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML 1.0 forbids
const ILLEGAL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const NAME = /[A-Za-z_:\u00c0-\uffff][-A-Za-z0-9_:.\u00b7\u00c0-\uffff]*/y;
const WS = /[ \t\r\n]*/y;

function isLegalCodePoint(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function decodeEntities(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&]*);|&/g, (match, body: string | undefined) => {
    if (body === undefined) throw malformed('bare & in text');
    switch (body) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    let cp: number;
    if (/^#x[0-9a-fA-F]{1,6}$/.test(body)) cp = Number.parseInt(body.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(body)) cp = Number.parseInt(body.slice(1), 10);
    else throw malformed(`unknown entity ${match}`);
    if (!isLegalCodePoint(cp)) throw malformed(`illegal character reference ${match}`);
    return String.fromCodePoint(cp);
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon === -1 ? qname : qname.slice(colon + 1);
}

interface MutableNode {
  name: string;
  qname: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** Parse a whole document (string or UTF-8 bytes) into its root element. Throws MalformedXML. */
export function parseXml(input: string | Uint8Array, options: ParseXmlOptions = {}): XmlNode {
  const maxBytes = options.maxXmlBytes ?? DEFAULT_MAX_XML_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  let doc: string;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > maxBytes) throw malformed('document too large');
    doc = input;
  } else {
    if (input.byteLength > maxBytes) throw malformed('document too large');
    try {
      doc = utf8.decode(input);
    } catch {
      throw malformed('invalid UTF-8');
    }
  }
  if (doc.charCodeAt(0) === 0xfeff) doc = doc.slice(1);
  if (ILLEGAL_CHARS.test(doc)) throw malformed('illegal character');

  let pos = 0;
  const skipWs = (): void => {
    WS.lastIndex = pos;
    WS.exec(doc);
    pos = WS.lastIndex;
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(doc);
    if (!m) throw malformed(`expected a name at ${pos}`);
    pos = NAME.lastIndex;
    return m[0];
  };
  const expectEnd = (terminator: string, what: string): number => {
    const end = doc.indexOf(terminator, pos);
    if (end === -1) throw malformed(`unterminated ${what}`);
    return end;
  };
  // Comments, processing instructions and whitespace between elements.
  const skipMisc = (allowDecl: boolean): void => {
    for (;;) {
      skipWs();
      if (doc.startsWith('<!--', pos)) {
        const end = expectEnd('-->', 'comment');
        pos = end + 3;
      } else if (doc.startsWith('<?', pos)) {
        const end = expectEnd('?>', 'processing instruction');
        const target = doc.slice(pos + 2, end).split(/[ \t\r\n]/, 1)[0] ?? '';
        if (target.toLowerCase() === 'xml' && !(allowDecl && pos === 0))
          throw malformed('misplaced XML declaration');
        pos = end + 2;
      } else if (doc.startsWith('<!', pos)) {
        throw malformed('DTDs and declarations are not accepted');
      } else {
        return;
      }
      allowDecl = false;
    }
  };

  skipMisc(true);
  if (doc[pos] !== '<') throw malformed('expected the root element');

  const stack: MutableNode[] = [];
  let root: XmlNode | undefined;
  while (root === undefined) {
    if (pos >= doc.length) throw malformed('unexpected end of document');
    if (doc[pos] === '<') {
      if (doc.startsWith('</', pos)) {
        pos += 2;
        const qname = readName();
        skipWs();
        if (doc[pos] !== '>') throw malformed('bad end tag');
        pos += 1;
        const node = stack.pop();
        if (!node || node.qname !== qname) throw malformed(`mismatched end tag </${qname}>`);
        const done: XmlNode = node;
        const parent = stack[stack.length - 1];
        if (parent) parent.children.push(done);
        else root = done;
      } else if (doc.startsWith('<!--', pos)) {
        pos = expectEnd('-->', 'comment') + 3;
      } else if (doc.startsWith('<![CDATA[', pos)) {
        const start = pos + 9;
        pos = start;
        const end = expectEnd(']]>', 'CDATA section');
        const parent = stack[stack.length - 1];
        if (!parent) throw malformed('CDATA outside the root element');
        parent.text += doc.slice(start, end);
        pos = end + 3;
      } else if (doc.startsWith('<?', pos)) {
        pos = expectEnd('?>', 'processing instruction') + 2;
      } else if (doc.startsWith('<!', pos)) {
        throw malformed('declarations are not accepted');
      } else {
        pos += 1;
        const qname = readName();
        const attributes: Record<string, string> = {};
        for (;;) {
          const before = pos;
          skipWs();
          const ch = doc[pos];
          if (ch === '>' || ch === '/') break;
          if (pos === before) throw malformed('expected whitespace before an attribute');
          const attrName = readName();
          skipWs();
          if (doc[pos] !== '=') throw malformed('expected = after an attribute name');
          pos += 1;
          skipWs();
          const quote = doc[pos];
          if (quote !== '"' && quote !== "'") throw malformed('attribute value must be quoted');
          const valueEnd = doc.indexOf(quote, pos + 1);
          if (valueEnd === -1) throw malformed('unterminated attribute value');
          const rawValue = doc.slice(pos + 1, valueEnd);
          if (rawValue.includes('<')) throw malformed('< in attribute value');
          if (Object.hasOwn(attributes, attrName)) throw malformed(`duplicate attribute ${attrName}`);
          attributes[attrName] = decodeEntities(rawValue);
          pos = valueEnd + 1;
        }
        const selfClosing = doc[pos] === '/';
        if (selfClosing) {
          if (doc[pos + 1] !== '>') throw malformed('bad empty-element tag');
          pos += 2;
        } else {
          pos += 1;
        }
        if (stack.length + 1 > maxDepth) throw malformed('nesting too deep');
        const node: MutableNode = { name: localName(qname), qname, attributes, children: [], text: '' };
        if (selfClosing) {
          const parent = stack[stack.length - 1];
          if (parent) parent.children.push(node);
          else root = node;
        } else {
          stack.push(node);
        }
      }
    } else {
      const next = doc.indexOf('<', pos);
      const end = next === -1 ? doc.length : next;
      const raw = doc.slice(pos, end);
      const parent = stack[stack.length - 1];
      if (!parent) throw malformed('text outside the root element');
      if (raw.includes(']]>')) throw malformed(']]> in text');
      // Line ends are normalised as XML requires; a literal CR survives only as &#xD;.
      parent.text += decodeEntities(raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw);
      pos = end;
    }
  }
  skipMisc(false);
  if (pos !== doc.length) throw malformed('content after the root element');
  return root;
}

/** Child elements of `node` with local name `name`. */
export function childElements(node: XmlNode, name: string): XmlNode[] {
  return node.children.filter((c) => c.name === name);
}

/** The first child element named `name`, if any. */
export function firstChild(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

/** The text of the first child named `name`, if that child exists. */
export function childText(node: XmlNode, name: string): string | undefined {
  return firstChild(node, name)?.text;
}
