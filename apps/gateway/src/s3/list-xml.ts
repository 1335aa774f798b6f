// Listing documents built as one string (a 1000-key page is ~20k pieces): no element tree, no
// Date objects per row. Invariant: every text value goes through escapeXmlText (which returns its
// input unchanged when nothing needs escaping, and throws for characters XML 1.0 cannot carry), so
// the output is exactly what renderXmlDocument would produce for the same elements.
import { escapeXmlText, S3_XMLNS } from '@blobcache/s3-protocol';

/** `<?xml ...?><Root xmlns="...">`: the start of a listing document; close with `</Root>`. */
export function openDocument(root: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns="${S3_XMLNS}">`;
}

/** One element with escaped text. */
export function tag(name: string, text: string): string {
  return `<${name}>${escapeXmlText(text)}</${name}>`;
}

/** One element with text that never needs escaping (numbers, booleans, fixed words). */
export function rawTag(name: string, text: string | number | boolean): string {
  return `<${name}>${text}</${name}>`;
}

/** An element only when `text` is defined. */
export function optTag(name: string, text: string | undefined): string {
  return text === undefined ? '' : tag(name, text);
}
