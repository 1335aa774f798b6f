import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { childElements, childText, parseXml } from './xml-parse.ts';

function malformed(input: string | Uint8Array, opts?: Parameters<typeof parseXml>[1]): void {
  try {
    parseXml(input, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(S3Error);
    expect((e as S3Error).code).toBe('MalformedXML');
    return;
  }
  throw new Error(`expected MalformedXML for ${String(input)}`);
}

describe('parseXml', () => {
  it('parses elements, attributes, entities, CDATA, comments and namespaces', () => {
    const node = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><s3:Root xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/" a=\'1\'>' +
        '<Key>a&amp;b&lt;&#x41;&#66;&quot;&apos;&gt;</Key><Key><![CDATA[<raw>&amp;]]></Key><Empty/><!-- x --><?pi x?></s3:Root>',
    );
    expect(node.name).toBe('Root');
    expect(node.attributes.a).toBe('1');
    expect(childElements(node, 'Key').map((k) => k.text)).toEqual([`a&b<AB"'>`, '<raw>&amp;']);
    expect(childText(node, 'Empty')).toBe('');
    expect(childText(node, 'Missing')).toBeUndefined();
  });

  it('accepts a UTF-8 byte body with BOM and keeps whitespace in text', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<K>  spaced ü  </K>')]);
    expect(parseXml(bytes).text).toBe('  spaced ü  ');
  });

  it('normalises CRLF in text but keeps &#13;', () => {
    expect(parseXml('<K>a\r\nb\rc&#13;</K>').text).toBe('a\nb\nc\r');
  });

  it('rejects malformed documents', () => {
    malformed('');
    malformed('not xml');
    malformed('<a>');
    malformed('<a></b>');
    malformed('<a><b></a></b>');
    malformed('<a>x</a><b/>');
    malformed('<a>&unknown;</a>');
    malformed('<a>& </a>');
    malformed('<a>&#0;</a>');
    malformed('<a>&#xFFFE;</a>');
    malformed('<a>\u0001</a>');
    malformed('<a b=1/>');
    malformed('<a b="1" b="2"/>');
    malformed('<a b="<"/>');
    malformed('<a>]]></a>');
    malformed(' <a/> trailing');
    malformed('<a/><?xml version="1.0"?>');
    malformed(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]));
  });

  it('rejects DTDs (no entity expansion, no external entities)', () => {
    malformed('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>');
    malformed('<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>');
  });

  it('enforces size and depth limits', () => {
    malformed(`<a>${'x'.repeat(100)}</a>`, { maxXmlBytes: 50 });
    malformed(`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`);
    expect(parseXml(`${'<a>'.repeat(5)}${'</a>'.repeat(5)}`, { maxDepth: 5 }).name).toBe('a');
  });
});
