import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { el, escapeXmlText, isXmlRepresentable, optEl, renderXmlDocument } from './xml.ts';
import { parseXml } from './xml-parse.ts';

describe('escapeXmlText', () => {
  it('escapes markup and quotes', () => {
    expect(escapeXmlText(`a&b<c>"d"'e'`)).toBe('a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;');
    expect(escapeXmlText('plain/key name+%')).toBe('plain/key name+%');
  });

  it('writes CR as a character reference so it survives parsing; keeps tab and LF', () => {
    expect(escapeXmlText('a\rb\nc\td')).toBe('a&#xD;b\nc\td');
    const doc = renderXmlDocument(el('K', 'a\rb\r\nc'));
    expect(parseXml(doc).text).toBe('a\rb\r\nc');
  });

  it('keeps valid surrogate pairs and unicode', () => {
    expect(escapeXmlText('😀 ключ 日本')).toBe('😀 ключ 日本');
  });

  it('throws InvalidArgument for characters XML 1.0 cannot hold', () => {
    for (const bad of ['a\u0000', '\u0001', 'x\u001fy', '\ud800', 'a\udc00b', '\ufffe', '\uffff', '\u000b']) {
      expect(isXmlRepresentable(bad)).toBe(false);
      try {
        escapeXmlText(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(S3Error);
        expect((e as S3Error).code).toBe('InvalidArgument');
      }
    }
  });
});

describe('renderXmlDocument', () => {
  it('adds the declaration and S3 namespace, skips absent children, renders scalars', () => {
    const doc = renderXmlDocument(
      el('ListBucketResult', [
        el('Name', 'b'),
        optEl('Marker', undefined),
        el('Prefix'),
        el('MaxKeys', 1000),
        el('IsTruncated', false),
        el('LastModified', new Date(Date.UTC(2009, 9, 12, 17, 50, 30))),
        el('ETag', '"abc"'),
      ]),
    );
    expect(doc).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Name>b</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>' +
        '<LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;abc&quot;</ETag></ListBucketResult>',
    );
  });

  it('round-trips through the parser', () => {
    const key = `a&b<"'> ü/😀\t\n`;
    const node = parseXml(renderXmlDocument(el('R', [el('Key', key)])));
    expect(node.name).toBe('R');
    expect(node.attributes.xmlns).toBe('http://s3.amazonaws.com/doc/2006-03-01/');
    expect(node.children[0]?.text).toBe(key);
  });
});
