// The owner shown in listings: a stable canonical id derived from the access key (there are no
// accounts; every configured key owns every bucket).
import { createHash } from 'node:crypto';
import { el, escapeXmlText, type XmlElement } from '@blobcache/s3-protocol';

/** The canonical user id of the owner: every configured key owns every bucket. */
export function ownerId(accessKeyId: string): string {
  return createHash('sha256').update(`blobcache-owner:${accessKeyId}`).digest('hex');
}

export function ownerElement(accessKeyId: string, name = 'Owner'): XmlElement {
  return el(name, [el('ID', ownerId(accessKeyId)), el('DisplayName', accessKeyId || 'anonymous')]);
}

/** ownerElement rendered as XML text (string-built listings render it once per page). */
export function ownerXml(accessKeyId: string, name = 'Owner'): string {
  const display = escapeXmlText(accessKeyId || 'anonymous');
  return `<${name}><ID>${ownerId(accessKeyId)}</ID><DisplayName>${display}</DisplayName></${name}>`;
}
