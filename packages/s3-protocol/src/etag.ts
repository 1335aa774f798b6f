// ETags as S3 computes and compares them. Invariant: an ETag leaving this module is quoted
// (`"<hex>"` or `"<hex>-<parts>"`); comparisons ignore quotes and a weak `W/` prefix, so a client
// may send either form.

import { createHash } from 'node:crypto';

/** `"<hex md5>"` for a single-request upload, from the raw MD5 digest. */
export function md5Etag(md5: Uint8Array): string {
  return `"${Buffer.from(md5.buffer, md5.byteOffset, md5.byteLength).toString('hex')}"`;
}

/** `"<hex md5 of the concatenated binary part MD5s>-<part count>"` for a multipart upload. */
export function multipartEtag(partMd5s: readonly Uint8Array[]): string {
  const h = createHash('md5');
  for (const d of partMd5s) h.update(d);
  return `"${h.digest('hex')}-${partMd5s.length}"`;
}

/** Strip a weak prefix and surrounding quotes: `W/"abc"` → `abc`. */
export function normalizeEtag(etag: string): string {
  let t = etag.trim();
  if (t.startsWith('W/')) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t;
}

/** Quote an ETag value if it is not quoted already. */
export function quoteEtag(etag: string): string {
  return `"${normalizeEtag(etag)}"`;
}

/** True when two ETags name the same entity (quotes and W/ ignored). */
export function etagsMatch(a: string, b: string): boolean {
  return normalizeEtag(a) === normalizeEtag(b);
}

/** Split an If-Match / If-None-Match list (`"a", "b"` or `*`) into normalized ETags. */
export function parseEtagList(header: string): string[] {
  const out: string[] = [];
  // Quoted ETags may contain commas in theory; S3 ETags never do, but split on quotes first anyway.
  const re = /\s*(W\/)?("[^"]*"|[^,\s]+)\s*(?:,|$)/gy;
  let m: RegExpExecArray | null = re.exec(header);
  while (m !== null && m[0] !== '') {
    out.push(normalizeEtag(m[2]!));
    m = re.exec(header);
  }
  return out;
}
